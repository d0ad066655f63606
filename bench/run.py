"""`make bench`: login cost, page throughput against a baseline, growth with the user count,
provisioning throughput. Prints figures (median and min-max of several runs); asserts none."""

import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import upgrade_database
from bench.clients import run_logins, session_cookie
from bench.provisioning import provisioning_rate
from bench.seeding import FIRST_SEED_ID, seed_users
from devtools.servers import PostgresServer, free_port, postgres_bin_dir

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
LOGINS = int(os.environ.get("BENCH_LOGINS", "200"))
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,100000,1000000").split(",")]
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
PAGE_SECONDS = float(os.environ.get("BENCH_PAGE_SECONDS", "4"))
RATE_LIMITS = ("LOGIN", "IDENTIFIER", "CALLBACK", "ACCOUNT")
PROVIDERS_TOML = """
[[providers]]
key = "openid"
name = "OpenID"

[[providers]]
key = "openid-stateless"
name = "OpenID (stateless)"
stateless = true
"""


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Figure:
    samples: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.samples:
            return "-"
        median = statistics.median(self.samples)
        low, high = min(self.samples), max(self.samples)
        return f"{_fmt(median)} ({_fmt(low)}-{_fmt(high)})"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


class Served:
    """A server in its own process group; its CPU is that of the process and its children."""

    def __init__(self, command: list[str], env: dict[str, str], url: str, log: Path) -> None:
        self.url = url
        self._log = log.open("w")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: see {self._log.name}")
            try:
                requests.get(self.url + "/", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.url} did not come up")

    def cpu_seconds(self) -> float:
        root = psutil.Process(self.process.pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self._log.close()


def gunicorn(
    spec: str,
    env: dict[str, str],
    log: Path,
    port: int | None = None,
    *,
    config: str = "python:entrypoints.gunicorn_config",
    workers: int = WORKERS,
) -> Served:
    """The production serve command (`make serve`), on a port of 127.0.0.1."""
    port = port or free_port()
    command = [str(BIN / "gunicorn"), "--config", config, "--workers", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), spec]
    return Served(command, env, f"http://127.0.0.1:{port}", log)


def dev_provider(workdir: Path) -> Served:
    """The dev OpenID provider, approving every login at once."""
    url = f"http://127.0.0.1:{free_port()}"
    return Served(
        [str(BIN / "microblog"), "dev-provider", "--auto-approve", "--url", url],
        os.environ | {"MICROBLOG_INSTANCE_PATH": str(workdir / "op-instance")},
        url,
        workdir / "op.log",
    )


@dataclass
class Bench:
    workdir: Path
    op: str
    postgres: PostgresServer | None
    results: dict[str, dict[str, Figure]] = field(default_factory=dict)
    counter: int = 0

    def figure(self, table: str, row: str) -> Figure:
        return self.results.setdefault(table, {}).setdefault(row, Figure())

    def database(self, kind: str) -> str:
        self.counter += 1
        if kind == "sqlite":
            url = f"sqlite:///{self.workdir / f'bench-{self.counter}.sqlite'}"
        else:
            assert self.postgres is not None
            url = self.postgres.create_database(f"bench_{self.counter}")
        engine = create_database_engine(url)
        upgrade_database(engine)
        engine.dispose()
        return url

    def app_env(self, database_url: str) -> dict[str, str]:
        config = self.workdir / "providers.toml"
        config.write_text(PROVIDERS_TOML)
        return os.environ | {
            "MICROBLOG_CONFIG": str(config),
            "MICROBLOG_DATABASE_URL": database_url,
            "MICROBLOG_INSTANCE_PATH": str(self.workdir / "instance"),
            "MICROBLOG_SECRET_KEY": "bench-secret-key",
            "MICROBLOG_DEV_PROVIDER_URL": "",
            "MICROBLOG_DEV_OIDC_URL": "",
            # A few client processes sign hundreds of people in a minute from one address.
            **{f"MICROBLOG_RATE_LIMIT_{name}": "off" for name in RATE_LIMITS},
        }

    def serve_app(self, database_url: str, name: str, **gunicorn_options: Any) -> Served:
        port = free_port()
        env = self.app_env(database_url) | {"MICROBLOG_BASE_URL": f"http://127.0.0.1:{port}"}
        log = self.workdir / f"{name}.log"
        return gunicorn("entrypoints.app:create_app()", env, log, port, **gunicorn_options)

    def names(self, prefix: str) -> list[str]:
        self.counter += 1
        return [f"{prefix}{self.counter}-{i}" for i in range(LOGINS)]

    def logins(self, app: Served, names: list[str], provider: str) -> tuple[float, float]:
        """Server CPU ms per login and logins per second for one batch."""
        before = app.cpu_seconds()
        wall = run_logins(app.url, self.op, names, provider, CLIENTS)
        return (app.cpu_seconds() - before) * 1000 / len(names), len(names) / wall


def wrk(url: str, cookie: str, seconds: float) -> tuple[float, float, float, float]:
    """Requests/s, p50 ms, p99 ms of GET url with the cookie; and wrk's own CPU seconds."""
    before = children_cpu_seconds()
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-H",
            f"Cookie: session={cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = children_cpu_seconds() - before
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return rps, _latency(output, "50%"), _latency(output, "99%"), cpu


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def login_costs(bench: Bench, app: Served, table: str) -> None:
    for provider, label in (("openid", "stateful"), ("openid-stateless", "stateless")):
        run_logins(app.url, bench.op, bench.names("warm"), provider, CLIENTS)
        for _ in range(REPEATS):
            names = bench.names("new")
            cpu, rate = bench.logins(app, names, provider)
            bench.figure(table, f"new user, {label}: server CPU ms/login").samples.append(cpu)
            bench.figure(table, f"new user, {label}: logins/s").samples.append(rate)
            cpu, rate = bench.logins(app, names, provider)
            bench.figure(table, f"returning user, {label}: server CPU ms/login").samples.append(cpu)
            bench.figure(table, f"returning user, {label}: logins/s").samples.append(rate)


def page_versus_baseline(bench: Bench, database_url: str, app: Served) -> None:
    env = bench.app_env(database_url)
    baseline = gunicorn("bench.baseline_app:create_baseline_app()", env, bench.workdir / "base.log")
    try:
        app_cookie = session_cookie(app.url, bench.op, "reader", "openid")
        user_id = FIRST_SEED_ID
        base_browser = requests.Session()
        base_browser.get(f"{baseline.url}/bench-login/{user_id}", timeout=10)
        base_cookie = base_browser.cookies["session"]
        table = "Authenticated index page (wrk, 16 connections)"
        for _ in range(REPEATS):
            base = wrk(f"{baseline.url}/index", base_cookie, PAGE_SECONDS)
            ours = wrk(f"{app.url}/index", app_cookie, PAGE_SECONDS)
            for name, (rps, p50, p99, cpu) in (("baseline", base), ("microblog", ours)):
                bench.figure(table, f"{name}: requests/s").samples.append(rps)
                bench.figure(table, f"{name}: p50 ms").samples.append(p50)
                bench.figure(table, f"{name}: p99 ms").samples.append(p99)
                bench.figure(table, f"{name}: wrk CPU s").samples.append(cpu)
            bench.figure(table, "ratio microblog/baseline requests/s").samples.append(
                ours[0] / base[0]
            )
    finally:
        baseline.stop()


def growth(bench: Bench, kind: str) -> None:
    database_url = bench.database(kind)
    engine = create_database_engine(database_url)
    table = f"Growth with the user count ({kind})"
    try:
        for size in SIZES:
            started = time.perf_counter()
            seed_users(engine, size)
            seeding = time.perf_counter() - started
            bench.figure(table, f"{size:>9,} users: seeding s").samples.append(seeding)
            app = bench.serve_app(database_url, f"growth-{kind}-{size}")
            try:
                run_logins(app.url, bench.op, bench.names("warm"), "openid", CLIENTS)
                cookie = session_cookie(app.url, bench.op, f"reader{size}", "openid")
                for _ in range(REPEATS):
                    cpu, _rate = bench.logins(app, bench.names("grow"), "openid")
                    rps, p50, p99, _cpu = wrk(f"{app.url}/index", cookie, PAGE_SECONDS / 2)
                    row = f"{size:>9,} users"
                    bench.figure(table, f"{row}: new-user login CPU ms").samples.append(cpu)
                    bench.figure(table, f"{row}: index p50 ms").samples.append(p50)
                    bench.figure(table, f"{row}: index p99 ms").samples.append(p99)
                    bench.figure(table, f"{row}: index requests/s").samples.append(rps)
            finally:
                app.stop()
    finally:
        engine.dispose()


def provisioning(bench: Bench, kinds: list[str]) -> None:
    table = "Provisioning: complete_login through the SQL unit of work (new users/s)"
    for kind in kinds:
        for threads in (1, 4):
            for _ in range(REPEATS):
                rate = provisioning_rate(bench.database(kind), users=2000, threads=threads)
                bench.figure(table, f"{kind}, {threads} thread(s)").samples.append(rate)


def report(bench: Bench, started: datetime, elapsed: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.node()}: {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.platform()}. App: gunicorn, {WORKERS} sync workers. Load: {CLIENTS} "
        f"login client processes, wrk for pages. {REPEATS} runs per figure, {LOGINS} logins "
        f"per run. Each cell: median (min-max). Took {elapsed / 60:.1f} min.",
        "",
    ]
    for table, rows in bench.results.items():
        lines += [f"## {table}", "", "| measure | median (min-max) |", "|---|---|"]
        lines += [f"| {row} | {figure} |" for row, figure in rows.items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    started, clock = datetime.now(UTC), time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="microblog-bench-"))
    bin_dir = postgres_bin_dir()
    postgres = PostgresServer(bin_dir) if bin_dir else None
    if postgres:
        postgres.start()
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    op = dev_provider(workdir)
    bench = Bench(workdir, op.url, postgres)
    try:
        database_url = bench.database("sqlite")
        seed_users(create_database_engine(database_url), 1000)
        app = bench.serve_app(database_url, "main")
        print("bench: login costs...", flush=True)
        login_costs(bench, app, "Full login round trip (SQLite)")
        print("bench: index page...", flush=True)
        page_versus_baseline(bench, database_url, app)
        app.stop()
        for kind in kinds:
            print(f"bench: growth on {kind}...", flush=True)
            growth(bench, kind)
        print("bench: provisioning...", flush=True)
        provisioning(bench, kinds)
    finally:
        op.stop()
        if postgres:
            postgres.stop()
    text = report(bench, started, time.perf_counter() - clock)
    out = ROOT / "bench" / "results" / "latest.md"
    out.write_text(text + "\n")
    print(text)
    print(f"\nWritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
