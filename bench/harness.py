"""The serving harness of `make bench` (bench/run.py) and `python -m bench.profile`: apps under
the `make serve` gunicorn command, each in a process group of its own, beside the dev provider
and, when installed, PostgreSQL and Redis; fresh databases; whole logins from client processes
and pages under wrk, and the figures they give."""

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import upgrade_database
from bench.clients import run_logins
from bench.load import pages_under_load
from devtools.servers import (
    PostgresServer,
    RedisServer,
    free_port,
    postgres_bin_dir,
    redis_server_path,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOGINS = int(os.environ.get("BENCH_LOGINS", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
PAGE_SECONDS = float(os.environ.get("BENCH_PAGE_SECONDS", "4"))
START_SECONDS = float(os.environ.get("BENCH_START_SECONDS", "120"))
# What loads the pages: wrk (Debian's, `make bench` installs it as root), else bench/load.py.
LOAD = "wrk" if shutil.which("wrk") else "bench/load.py"
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
GUNICORN_CONFIG = "python:entrypoints.cli.gunicorn_config"


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
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self) -> None:
        # A slow start (a busy machine, a first import) is waited for; any error of the
        # request is "not yet" until the deadline.
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: see {self._log.name}")
            try:
                requests.get(self.url + "/healthz", timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"{self.url} did not come up within {START_SECONDS} s")

    def cpu_seconds(self) -> float:
        """Its process group's CPU (it leads its own session)."""
        return process_group_cpu(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log.close()


def process_group_cpu(pgid: int) -> float:
    """utime+stime of every live process of the group, as `ps -g` would add them up."""
    total = 0.0
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) != pgid:
                continue
            times = process.cpu_times()
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
        total += times.user + times.system
    return total


def process_tree_cpu(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def gunicorn_command(spec: str, port: int, workers: int, config: str, *extra: str) -> list[str]:
    """The production serve command (`make serve`), on a port of 127.0.0.1."""
    command = [str(BIN / "gunicorn"), "--config", config, "--workers", str(workers)]
    return [*command, *extra, "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), spec]


@dataclass
class Bench:
    workdir: Path
    running: ExitStack
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    op: str = ""
    results: dict[str, dict[str, Figure]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # blocks of text after the tables
    counter: int = 0

    def figure(self, table: str, row: str) -> Figure:
        return self.results.setdefault(table, {}).setdefault(row, Figure())

    def serve(self, command: list[str], env: dict[str, str], port: int, name: str) -> Served:
        served = Served(command, env, f"http://127.0.0.1:{port}", self.workdir / f"{name}.log")
        self.running.callback(served.stop)
        return served

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

    def app_env(
        self, database_url: str, port: int, rate_limits: bool = False, **settings: str
    ) -> dict[str, str]:
        """This app's environment; without `rate_limits`, its rate limits are off."""
        config = self.workdir / "providers.toml"
        config.write_text(PROVIDERS_TOML)
        metrics = Path(tempfile.mkdtemp(dir=self.workdir, prefix="metrics-"))
        return os.environ | {
            "MICROBLOG_CONFIG": str(config),
            "MICROBLOG_BASE_URL": f"http://127.0.0.1:{port}",
            "MICROBLOG_DATABASE_URL": database_url,
            "MICROBLOG_INSTANCE_PATH": str(self.workdir / "instance"),
            "MICROBLOG_SECRET_KEY": "bench-secret-key",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            # Pages are read by one person, and some sections sign many in from one address.
            **({} if rate_limits else {f"MICROBLOG_RATE_LIMIT_{n}": "off" for n in RATE_LIMITS}),
            **{f"MICROBLOG_{name.upper()}": value for name, value in settings.items()},
        }

    def serve_app(
        self,
        database_url: str,
        name: str,
        *extra: str,
        workers: int = WORKERS,
        config: str = GUNICORN_CONFIG,
        **settings: str,
    ) -> Served:
        port = free_port()
        command = gunicorn_command("entrypoints.app:create_app()", port, workers, config, *extra)
        return self.serve(command, self.app_env(database_url, port, **settings), port, name)

    def serve_module(
        self,
        spec: str,
        name: str,
        env: Callable[[int], dict[str, str]] | None = None,
        workers: int = WORKERS,
    ) -> Served:
        """An app of this repository under the production gunicorn command and config;
        `env(port)` gives its environment (this process's by default)."""
        port = free_port()
        command = gunicorn_command(spec, port, workers, GUNICORN_CONFIG)
        return self.serve(command, env(port) if env else dict(os.environ), port, name)

    def serve_tutorial(self, name: str, workers: int = WORKERS) -> Served:
        folder = self.workdir / name
        return self.serve_module(
            "bench.tutorial_app:app",
            name,
            lambda _: os.environ | {"TUTORIAL_WORKDIR": str(folder)},
            workers=workers,
        )

    def make_serve(self, database_url: str, name: str, workers: int = 1) -> Served:
        """This app as `make serve` runs it (make, gunicorn's master and its workers, one
        process group), its rate limits on: people sign in to it from addresses of their own."""
        port = free_port()
        command = ["make", "--no-print-directory", "-C", str(ROOT), "serve"]
        command += [f"WORKERS={workers}", f"BIND=127.0.0.1:{port}"]
        env = self.app_env(database_url, port, rate_limits=True)
        return self.serve(command, env, port, name)

    def serve_floor(self, spec: str, workers: int = WORKERS) -> Served:
        return self.serve_module(spec, spec.split(":")[-1], workers=workers)

    def serve_baseline(self, database_url: str) -> Served:
        return self.serve_on(database_url, "bench.baseline_app:create_baseline_app()", "baseline")

    def serve_on(self, database_url: str, spec: str, name: str) -> Served:
        """A yardstick app of this repository with this app's environment (its database, its
        secret key) under the production gunicorn command."""
        return self.serve_module(spec, name, lambda port: self.app_env(database_url, port))

    def names(self, prefix: str, count: int = LOGINS) -> list[str]:
        self.counter += 1
        return [f"{prefix}{self.counter}-{i}" for i in range(count)]

    def logins(
        self,
        site: str,
        cpu: Callable[[], float],
        names: list[str],
        kind: str = "microblog",
        clients: int = CLIENTS,
    ) -> tuple[float, float]:
        """Server CPU ms per login and logins per second for one batch, each person signing
        in from an address of their own."""
        before = cpu()
        wall = run_logins(site, self.op, names, "openid", clients, kind, own_addresses=True)
        return (cpu() - before) * 1000 / len(names), len(names) / wall


def wrk(url: str, cookie: str, seconds: float = PAGE_SECONDS) -> tuple[float, float, float]:
    """Requests/s, p50 ms, p99 ms of GET url with the cookie header: by wrk, or where it is
    not installed, by bench/load.py."""
    if LOAD == "bench/load.py":
        return pages_under_load(url, cookie, seconds)
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return rps, _latency(output, "50%"), _latency(output, "99%")


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def start_services(bench: Bench, databases: bool = True) -> None:
    """The dev provider (auto-approving), and PostgreSQL and Redis when installed."""
    bin_dir = postgres_bin_dir() if databases else None
    if bin_dir:
        bench.postgres = PostgresServer(bin_dir)
        bench.running.callback(bench.postgres.stop)
        bench.postgres.start()
    redis_path = redis_server_path() if databases else None
    if redis_path:
        bench.redis = RedisServer(redis_path)
        bench.running.callback(bench.redis.stop)
        bench.redis.start()
    port = free_port()
    op = Served(
        [
            str(BIN / "python"),
            "-m",
            "devtools",
            "dev-provider",
            "--auto-approve",
            "--url",
            f"http://127.0.0.1:{port}",
        ],
        os.environ | {"MICROBLOG_INSTANCE_PATH": str(bench.workdir / "op-instance")},
        f"http://127.0.0.1:{port}",
        bench.workdir / "op.log",
    )
    bench.running.callback(op.stop)
    bench.op = op.url
