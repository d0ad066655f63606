"""`make bench`: what a login and a page cost, as ratios to the tutorial's own app (and to a
bare Flask-Login app) measured in the same run, alternating; then serving options, session
stores, one and two instances behind nginx, sign-ups under a crowded nickname, growth with the
user count, provisioning. Prints figures (median and min-max of several runs); asserts none.

BENCH_SECTIONS picks sections (comma-separated; default tutorial, stores, providers,
speedups, features, counters; `all` for every one): tutorial, providers, serving, stores,
instances, nicknames, growth, provisioning, speedups (each speed-up with and without, in
process, bench/speedups.py, and profiles of signed-in pages, sessions in SQLite and in Redis),
features (what the site's own features cost a sign-in, in process, bench/features.py),
counters (a rate-limit hit's CPU as more clients are counted, bench/counters.py).
"""

import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import psutil
import requests

from adapters.sql.engine import create_database_engine
from bench.clients import session_cookies
from bench.counters import samples as counter_samples
from bench.features import compare as compare_features
from bench.features import samples as feature_samples
from bench.harness import (
    BIN,
    CLIENTS,
    LOAD,
    LOGINS,
    PAGE_SECONDS,
    RATE_LIMITS,
    ROOT,
    WORKERS,
    Bench,
    Served,
    process_tree_cpu,
    start_services,
    wrk,
)
from bench.nicknames import crowded_sign_up_costs
from bench.page_floors import PAGES as FLOOR_PAGES_DEFAULT
from bench.page_floors import compare as compare_page_floors
from bench.providers import measure_providers
from bench.provisioning import provisioning_rate
from bench.seeding import FIRST_SEED_ID, seed_users
from bench.speedups import compare, profile_pages, samples, store_pages
from devtools.servers import free_port

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
# Sign-ins per round when server CPU per sign-in is read off `make serve`'s process group.
SIGN_INS = int(os.environ.get("BENCH_SIGN_INS", "60"))
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,100000,1000000").split(",")]
# Back-to-back pairs of page runs where two servers' index pages are compared.
PAIRED_ROUNDS = int(os.environ.get("BENCH_PAIRED_ROUNDS", "6"))
SPEEDUP_LOGINS = int(os.environ.get("BENCH_SPEEDUP_LOGINS", "10"))
SPEEDUP_PAGES = int(os.environ.get("BENCH_SPEEDUP_PAGES", "400"))
FEATURE_LOGINS = int(os.environ.get("BENCH_FEATURE_LOGINS", "20"))
PROFILED_PAGES = int(os.environ.get("BENCH_PROFILED_PAGES", "2000"))
ALL_SECTIONS = (
    "tutorial,providers,speedups,features,counters,serving,stores,instances,nicknames,growth,"
    "provisioning"
)
# What `make bench` runs unless told: the issues' targets, within 10 minutes on 2 CPUs.
DEFAULT_SECTIONS = "tutorial,stores,providers,speedups,features,counters"
_ASKED = os.environ.get("BENCH_SECTIONS", DEFAULT_SECTIONS)
SECTIONS = (ALL_SECTIONS if _ASKED == "all" else _ASKED).split(",")
RATIOS = "Ratios (this app / the tutorial's app, same run, alternating)"
# bench/floor_login_app.py: the tutorial's requests on Flask, Flask-Login and python3-openid
# doing nothing else, served as the apps are; what no app on these packages can go under.
FLOOR_LOGIN = "login floor"
SIGN_IN_ROW = (
    "server CPU per sign-in, new users by typed OpenID identifier, `make serve` with 1 worker"
    " (target <= 0.75)"
)
OVER_FLOOR_ROW = "the same, this app / the login floor (a multiple of the floor)"
FLOOR_ROW = "the floor's server CPU per sign-in / the tutorial's (no app on them goes under)"
INDEX_ROW = "index requests/s (target >= 1.5 by the median, no round under 1.3)"
# bench/baseline_app.py: the page's template, and one read of the revocable session, account
# and posts as this app makes them, nothing else: the most this page can be served at with
# those reads.
SIGNED_IN_FLOOR = "floor, this page for someone signed in"
SIGNED_IN_FLOOR_ROW = (
    "index requests/s: the signed-in floor (the template, the session cookie, one read of the"
    " session and account and one of the posts) / the tutorial's index"
)
# The page's template alone on Flask and Flask-Babel: no session, no sign-in, no CSRF token.
TEMPLATE_FLOOR = "floor, this page's template alone"
TEMPLATE_FLOOR_ROW = (
    "index requests/s: the template's floor (the page's template on Flask and Flask-Babel, no"
    " session, sign-in or CSRF token) / the tutorial's index"
)
# bench/page_floors.py: the same pages in this process, a second reading without the served noise.
PAGE_CPU_ROW = "signed-in index page CPU in process / the tutorial's"
FLOOR_PAGES = int(os.environ.get("BENCH_FLOOR_PAGES", str(FLOOR_PAGES_DEFAULT)))
REDIS_ROW = (
    "index requests/s, sessions in Redis / all on PostgreSQL, runs back to back (target >= 1.3)"
)


# -- sections -------------------------------------------------------------------------------


def against_the_tutorial(bench: Bench) -> None:
    """Server CPU per sign-in as the user of `make serve` sees it: this app run by `make
    serve` with one sync worker, the tutorial's app and the login floor under the same
    gunicorn command and config with one worker; the utime+stime of each one's process group
    over SIGN_INS new people signing in by a typed OpenID identifier. Then the index page,
    served with WORKERS workers (and the floors and the bare Flask-Login app beside). All on
    SQLite, the same provider and clients; the order alternates every round. Last, the same
    signed-in pages in this process (bench/page_floors.py)."""
    database_url = bench.database("sqlite")
    seed_users(create_database_engine(database_url), 1000)
    signing = {
        "microblog": bench.make_serve(database_url, "make-serve"),
        "tutorial": bench.serve_tutorial("tutorial-one-worker", workers=1),
        # The login floor keeps its state in memory: one worker, as the others here.
        FLOOR_LOGIN: bench.serve_floor("bench.floor_login_app:app", workers=1),
    }
    ours = bench.serve_app(database_url, "microblog")
    tutorial = bench.serve_tutorial("tutorial")
    baseline = bench.serve_baseline(database_url)
    floors = {
        "floor, bare WSGI": bench.serve_floor("bench.floor_apps:wsgi"),
        "floor, Flask hello page": bench.serve_floor("bench.floor_apps:flask_hello"),
        SIGNED_IN_FLOOR: bench.serve_on(
            database_url, "bench.baseline_app:create_signed_in_floor_app()", "signed-in-floor"
        ),
        TEMPLATE_FLOOR: bench.serve_floor("bench.baseline_app:create_template_floor_app()"),
    }
    sites = {"tutorial": tutorial, "microblog": ours}
    clients = {"tutorial": "tutorial", "microblog": "microblog", FLOOR_LOGIN: "tutorial"}
    for name, site in [*signing.items(), *sites.items()]:  # warm all: imports, caches
        bench.logins(site.url, site.cpu_seconds, bench.names("warm-", 20), clients[name])
    cookies = {
        name: session_cookies(site.url, bench.op, f"reader-{name}", "openid", name)
        for name, site in sites.items()
    }
    # The signed-in floor reads this app's database and cookies: its reader is this app's.
    cookies[SIGNED_IN_FLOOR] = cookies["microblog"]
    browser = requests.Session()
    browser.get(f"{baseline.url}/bench-login/{FIRST_SEED_ID}", timeout=30)
    cookies["baseline"] = f"session={browser.cookies['session']}"
    table = "Sign-ins and the index page: absolute figures"
    for round_ in range(REPEATS):
        order = list(signing) if round_ % 2 == 0 else list(reversed(signing))
        cost: dict[str, float] = {}
        for name in order:
            site, names = signing[name], bench.names("login-", SIGN_INS)
            cost[name], rate = bench.logins(site.url, site.cpu_seconds, names, clients[name], 2)
            row = f"{name}: server CPU ms per sign-in, new user (1 worker)"
            bench.figure(table, row).samples.append(cost[name])
            bench.figure(table, f"{name}: sign-ins/s (1 worker)").samples.append(rate)
        pages = {}
        order = list(sites) if round_ % 2 == 0 else list(reversed(sites))
        servers = [*floors.items(), ("baseline", baseline), *((n, sites[n]) for n in order)]
        if round_ % 2:  # the floors too, against the tutorial's, are read in both orders
            servers.reverse()
        for name, site in servers:
            pages[name] = wrk(f"{site.url}/index", cookies.get(name, ""))
            rps, p50, p99 = pages[name]
            bench.figure(table, f"{name}: index requests/s").samples.append(rps)
            bench.figure(table, f"{name}: index p50 ms").samples.append(p50)
            bench.figure(table, f"{name}: index p99 ms").samples.append(p99)
        ratio = bench.figure
        ours_, theirs, floor = cost["microblog"], cost["tutorial"], cost[FLOOR_LOGIN]
        ratio(RATIOS, SIGN_IN_ROW).samples.append(ours_ / theirs)
        ratio(RATIOS, OVER_FLOOR_ROW).samples.append(ours_ / floor)
        ratio(RATIOS, FLOOR_ROW).samples.append(floor / theirs)
        ratio(RATIOS, INDEX_ROW).samples.append(pages["microblog"][0] / pages["tutorial"][0])
        ratio(RATIOS, "index p50 latency").samples.append(
            pages["microblog"][1] / pages["tutorial"][1]
        )
        ratio(RATIOS, "index p99 latency").samples.append(
            pages["microblog"][2] / pages["tutorial"][2]
        )
        ratio(
            RATIOS, "index requests/s vs the bare Flask-Login app (target >= 0.9)"
        ).samples.append(pages["microblog"][0] / pages["baseline"][0])
        ratio(
            RATIOS, "index requests/s: the ceiling, Flask's hello page / the tutorial's index"
        ).samples.append(pages["floor, Flask hello page"][0] / pages["tutorial"][0])
        signed_in_floor = pages[SIGNED_IN_FLOOR][0] / pages["tutorial"][0]
        ratio(RATIOS, SIGNED_IN_FLOOR_ROW).samples.append(signed_in_floor)
        template_floor = pages[TEMPLATE_FLOOR][0] / pages["tutorial"][0]
        ratio(RATIOS, TEMPLATE_FLOOR_ROW).samples.append(template_floor)
    for served in (*signing.values(), ours, tutorial, baseline, *floors.values()):
        served.stop()
    for name, ratios in compare_page_floors(REPEATS, FLOOR_PAGES).items():
        bench.figure(RATIOS, f"{PAGE_CPU_ROW}: {name}").samples.extend(ratios)


def logins_and_pages(
    bench: Bench, table: str, servers: dict[str, Served], batch: int = LOGINS
) -> dict[str, str]:
    """Each server in turn, every round, in an order that alternates: a batch of new-user
    logins, then the index page. The signed-in readers' cookies, by server."""
    cookies = {name: session_cookies(s.url, bench.op, f"reader{n}", "openid")
               for n, (name, s) in enumerate(servers.items())}  # fmt: skip
    for round_ in range(REPEATS):
        order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
        for name in order:
            site = servers[name]
            cpu, rate = bench.logins(site.url, site.cpu_seconds, bench.names("batch", batch))
            rps, _p50, p99 = wrk(f"{site.url}/index", cookies[name])
            bench.figure(table, f"{name}: server CPU ms per login").samples.append(cpu)
            bench.figure(table, f"{name}: logins/s").samples.append(rate)
            bench.figure(table, f"{name}: index requests/s").samples.append(rps)
            bench.figure(table, f"{name}: index p99 ms").samples.append(p99)
    return cookies


def paired_pages(ours: tuple[Served, str], theirs: tuple[Served, str]) -> list[float]:
    """Index requests/s of one server over another's, each pair of runs back to back (half
    the usual length) in an order that alternates, after every login: a ratio of two moments
    seconds apart, which the machine's drift moves least."""
    ratios = []
    for round_ in range(PAIRED_ROUNDS):
        pair = [ours, theirs] if round_ % 2 == 0 else [theirs, ours]
        rates = {id(site): wrk(f"{site.url}/index", cookie, PAGE_SECONDS / 2)[0]
                 for site, cookie in pair}  # fmt: skip
        ratios.append(rates[id(ours[0])] / rates[id(theirs[0])])
    return ratios


SERVING = {
    "gunicorn sync": [],
    "gunicorn gthread, 4 threads, keep-alive 5 s": [
        "--worker-class", "gthread", "--threads", "4", "--keep-alive", "5",
    ],
}  # fmt: skip


def serving_options(bench: Bench) -> None:
    database_url = bench.database("sqlite")
    table = "Serving options (this app, SQLite, same run)"
    servers = {name: bench.serve_app(database_url, f"serve-{n}", *extra)
               for n, (name, extra) in enumerate(SERVING.items())}  # fmt: skip
    granian = shutil.which("granian", path=str(BIN))
    if granian:
        port = free_port()
        command = [granian, "--interface", "wsgi", "--workers", str(WORKERS), "--host"]
        command += ["127.0.0.1", "--port", str(port), "--factory", "entrypoints.app:create_app"]
        servers["granian WSGI"] = bench.serve(
            command, bench.app_env(database_url, port), port, "serve-granian"
        )
    logins_and_pages(bench, table, servers)
    for site in servers.values():
        site.stop()


def session_stores(bench: Bench) -> None:
    """Where sessions live: app-process CPU only (PostgreSQL's and Redis's own CPU is not
    counted), one gunicorn instance."""
    table = "Session stores (app CPU per login, authenticated index page)"
    setups: dict[str, tuple[str, dict[str, str]]] = {"SQL on SQLite": ("sqlite", {})}
    if bench.postgres:
        setups["SQL on PostgreSQL"] = ("postgresql", {})
        if bench.redis:
            redis = {"session_store": "redis", "redis_url": bench.redis.url}
            setups["Redis (users on PostgreSQL)"] = ("postgresql", redis)
    servers = {name: bench.serve_app(bench.database(kind), f"store-{n}", **settings)
               for n, (name, (kind, settings)) in enumerate(setups.items())}  # fmt: skip
    cookies = logins_and_pages(bench, table, servers, SIGN_INS)
    in_redis, on_postgres = "Redis (users on PostgreSQL)", "SQL on PostgreSQL"
    if in_redis in setups:
        ratios = paired_pages(
            (servers[in_redis], cookies[in_redis]), (servers[on_postgres], cookies[on_postgres])
        )
        bench.figure(RATIOS, REDIS_ROW).samples.extend(ratios)
    for site in servers.values():
        site.stop()


def instances_behind_nginx(bench: Bench) -> None:
    """One and two instances (one gunicorn worker each) behind nginx, on PostgreSQL with
    sessions in Redis: what `make stack` runs."""
    from devtools.stack import Stack, StackUnavailable

    table = "Instances behind nginx (1 gunicorn worker each; PostgreSQL, sessions in Redis)"
    limits = {f"MICROBLOG_RATE_LIMIT_{name}": "off" for name in RATE_LIMITS}
    providers = [{"key": "openid", "name": "OpenID"}]
    for count in (1, 2):
        stack = Stack(providers, "redis", instances=count, workers=1, extra_environment=limits)
        try:
            stack.start()
        except StackUnavailable as why:
            print(f"bench: instances skipped: {why}")
            stack.stop()
            return
        try:
            pids = [instance.process.pid for instance in stack.app_instances]

            def cpu(pids: list[int] = pids) -> float:
                return sum(process_tree_cpu(pid) for pid in pids)

            cookie = session_cookies(stack.url, bench.op, "reader", "openid")
            bench.logins(stack.url, cpu, bench.names("warm", 40))
            for _ in range(REPEATS):
                cpu_ms, rate = bench.logins(stack.url, cpu, bench.names("nginx"))
                rps, _p50, p99 = wrk(f"{stack.url}/index", cookie)
                row = f"{count} instance{'s' if count > 1 else ''}"
                bench.figure(table, f"{row}: server CPU ms per login").samples.append(cpu_ms)
                bench.figure(table, f"{row}: logins/s").samples.append(rate)
                bench.figure(table, f"{row}: index requests/s").samples.append(rps)
                bench.figure(table, f"{row}: index p99 ms").samples.append(p99)
        finally:
            stack.stop()
    one = bench.figure(table, "1 instance: index requests/s").samples
    two = bench.figure(table, "2 instances: index requests/s").samples
    for a, b in zip(one, two, strict=True):
        bench.figure(table, "ratio 2 instances / 1, index requests/s").samples.append(b / a)
    one = bench.figure(table, "1 instance: logins/s").samples
    two = bench.figure(table, "2 instances: logins/s").samples
    for a, b in zip(one, two, strict=True):
        bench.figure(table, "ratio 2 instances / 1, logins/s").samples.append(b / a)


def crowded_nicknames(bench: Bench) -> None:
    table = "Sign-ups under a crowded nickname (in-process CPU, SQLite)"
    crowd = int(os.environ.get("BENCH_CROWD", "100000"))
    for _ in range(REPEATS):
        first, crowded, fresh = crowded_sign_up_costs(bench.database("sqlite"), crowd, sign_ups=300)
        bench.figure(table, f'first "gamer" after {crowd:,} (once): CPU ms').samples.append(first)
        bench.figure(table, f'"gamer" with {crowd:,} taken: CPU ms per sign-up').samples.append(
            crowded
        )
        bench.figure(table, "fresh nicknames: CPU ms per sign-up").samples.append(fresh)
        bench.figure(table, "ratio crowded / fresh (target <= 1.25)").samples.append(
            crowded / fresh
        )


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
                bench.logins(app.url, app.cpu_seconds, bench.names("warm", 40))
                cookie = session_cookies(app.url, bench.op, f"reader{size}", "openid")
                for _ in range(REPEATS):
                    cpu, _rate = bench.logins(app.url, app.cpu_seconds, bench.names("grow"))
                    rps, p50, p99 = wrk(f"{app.url}/index", cookie, PAGE_SECONDS / 2)
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
    table = "Provisioning: complete_sign_in through the SQL unit of work (new users/s)"
    for kind in kinds:
        for threads in (1, 4):
            for _ in range(REPEATS):
                rate = provisioning_rate(bench.database(kind), users=2000, threads=threads)
                bench.figure(table, f"{kind}, {threads} thread(s)").samples.append(rate)


def speed_ups(bench: Bench) -> None:
    """Each speed-up with and without, in one process, interleaved (bench/speedups.py); then
    where a signed-in page's CPU goes."""
    table = "Speed-ups: the cost without each over the cost with it (in process, per round)"
    variants = compare(REPEATS, SPEEDUP_LOGINS, SPEEDUP_PAGES, None)
    for row, figures in samples(variants).items():
        bench.figure(table, row).samples.extend(figures)
    profiled = {"SQLite": {}}
    if bench.postgres and bench.redis:
        row = "signed-in page CPU, all on PostgreSQL / sessions in Redis (in process, in turn)"
        bench.figure(RATIOS, row).samples.extend(store_pages(REPEATS, SPEEDUP_PAGES))
        database_url = bench.database("postgresql")
        redis = {"session_store": "redis", "redis_url": bench.redis.url}
        profiled["sessions in Redis, users on PostgreSQL"] = {"database_url": database_url} | redis
    for where, settings in profiled.items():
        top = profile_pages(PROFILED_PAGES, **settings)
        bench.notes.append(
            f"## Profile of {PROFILED_PAGES} signed-in index pages, {where} (cProfile, CPU "
            f"clock)\n\n```\n{top.strip()}\n```\n"
        )


def features_cost(bench: Bench) -> None:
    """Each of the site's own features switched off, all of them, and the tutorial's app,
    signing people in in turn (bench/features.py)."""
    table = "What the site's own features cost a sign-in (in process, per round)"
    for row, figures in feature_samples(compare_features(REPEATS, FEATURE_LOGINS)).items():
        bench.figure(table, row).samples.extend(figures)


def rate_limit_counters(bench: Bench) -> None:
    """A rate-limit hit's CPU in the worker's counters and in limits' MemoryStorage, with
    more and more clients counted (bench/counters.py)."""
    table = "Rate-limit counters in a worker's memory (CPU per hit, in process)"
    for row, figures in counter_samples(REPEATS).items():
        bench.figure(table, row).samples.extend(figures)


# -- running and reporting --------------------------------------------------------------------


def report(bench: Bench, started: datetime, elapsed: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.node()}: {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.platform()}. Apps: gunicorn, {WORKERS} sync workers unless said. Load: "
        f"{CLIENTS} login client processes (2 for sign-ins against the tutorial's), {LOAD} "
        "(2 threads or processes, 16 connections) for pages. "
        f"{REPEATS} runs per figure, {LOGINS} logins per run. Each cell: median (min-max). "
        f"Sections: {', '.join(SECTIONS)}. Took {elapsed / 60:.1f} min.",
        "",
        "A login (sign-in): open /index, be sent to the login page, submit an OpenID "
        "identifier (the provider approves at once), land on /index, log out and follow "
        "where that leads. Server CPU: the utime+stime of the server's process group over a "
        f"batch, per login; per sign-in against the tutorial's: {SIGN_INS} new people a "
        "round, each from a loopback address of their own, this app run by `make serve` with "
        "1 worker (its rate limits on, as `make serve` has them), the tutorial's app and the "
        "login floor by the same gunicorn command with 1 worker.",
        "",
    ]
    ordered = sorted(bench.results.items(), key=lambda item: item[0] != RATIOS)
    for table, rows in ordered:
        lines += [f"## {table}", "", "| measure | median (min-max) |", "|---|---|"]
        lines += [f"| {row} | {figure} |" for row, figure in rows.items()]
        lines.append("")
    return "\n".join(lines + bench.notes)


def main() -> None:
    started, clock = datetime.now(UTC), time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="microblog-bench-"))
    with ExitStack() as running:
        running.callback(shutil.rmtree, workdir, ignore_errors=True)
        bench = Bench(workdir, running)
        start_services(bench)
        kinds = ["sqlite", "postgresql"] if bench.postgres else ["sqlite"]
        steps: dict[str, Callable[[], None]] = {
            "tutorial": lambda: against_the_tutorial(bench),
            "providers": lambda: measure_providers(bench, RATIOS, min(REPEATS, 3)),
            "serving": lambda: serving_options(bench),
            "stores": lambda: session_stores(bench),
            "instances": lambda: instances_behind_nginx(bench),
            "nicknames": lambda: crowded_nicknames(bench),
            "growth": lambda: [growth(bench, kind) for kind in kinds] and None,
            "provisioning": lambda: provisioning(bench, kinds),
            "speedups": lambda: speed_ups(bench),
            "features": lambda: features_cost(bench),
            "counters": lambda: rate_limit_counters(bench),
        }
        for section in SECTIONS:
            print(f"bench: {section}...", flush=True)
            steps[section]()
    text = report(bench, started, time.perf_counter() - clock)
    out = ROOT / "bench" / "results" / "latest.md"
    out.write_text(text + "\n")
    print(text)
    print(f"\nWritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
