"""`python -m bench.speedups [rounds] [logins] [pages]`: each speed-up of the app, with and
without, in one process: the CPU of a full sign-in (bench.steps: the anonymous index, the
login page, the begin, the return, the signed-in index, logout, the login page) and of a
signed-in index page, through the app's WSGI callable (no server; thread CPU, so the dev
provider's work in its own thread is not counted).

One app is built per variant: the app as it ships, and the app with one speed-up switched
off. In each round every variant signs `logins` people in and out and serves `pages` pages,
in turn; each round's figure is a median, and each variant's cost is divided by the shipped
app's of the same round, so the machine's drift between rounds cancels. Rate limits are on
(with limits no bench reaches), as in production.

`BENCH_SPEEDUPS` picks the variants (comma-separated names of SWITCHES); `BENCH_PROFILE=N`
then prints the top of a cProfile (CPU clock) of N signed-in index pages of the shipped app,
and `BENCH_PROFILE_STORE=redis` of the app with sessions in Redis and users on PostgreSQL
(both started for it); `BENCH_STORES=1` compares a signed-in page's CPU with everything on
PostgreSQL and with sessions in Redis, pages in turn.
"""

import cProfile
import gc
import io
import logging
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf

from bench.steps import log_in_and_out, signed_in_reader
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served
from entrypoints.web import csrf_tokens, i18n, rate_limits

ROUNDS = 7
LOGINS = 10
PAGES = 200
# Pages one variant serves before the next takes its turn: 1 runs each page after other apps'
# (cold caches); a run of pages is a worker serving one app.
PAGES_IN_TURN = int(os.environ.get("BENCH_PAGES_IN_TURN", "1"))
WARM_UP_LOGINS = 10
WARM_UP_PAGES = 300
SHIPPED = "as shipped"
# A second copy of the shipped app: its ratio shows what the method itself moves.
SAME_AGAIN = "nothing (a second copy of the app as shipped)"
NO_LIMIT = "100000/minute"
RATE_LIMITS = ("login", "identifier", "callback", "account", "identifier_total", "parked")
PROFILE_TOP = 25


def bench_app(folder: str, **settings: str) -> Any:
    """The app on SQLite in `folder`, unless `settings` say otherwise (`database_url`,
    `session_store`, `redis_url`)."""
    from adapters.sql.migrate import upgrade_database
    from entrypoints.app import create_app

    app = create_app(
        {
            "instance_path": folder,
            "base_url": "http://localhost",
            "secret_key": "bench-speedups-secret-key-of-forty-characters",
            "providers": [{"key": "openid", "name": "OpenID"}],
            **{f"rate_limit_{name}": NO_LIMIT for name in RATE_LIMITS},
            **settings,
        }
    )
    upgrade_database(app.extensions["container"].engine())
    return app


@contextmanager
def redis_sessions() -> Iterator[dict[str, str]]:
    """A PostgreSQL and a Redis of their own: the settings of sessions in Redis and users on
    PostgreSQL (the scale-out setting)."""
    from devtools.servers import PostgresServer, RedisServer, postgres_bin_dir, redis_server_path

    bin_dir, redis_path = postgres_bin_dir(), redis_server_path()
    if bin_dir is None or redis_path is None:
        raise RuntimeError("PostgreSQL and Redis are needed for sessions in Redis")
    postgres, redis = PostgresServer(bin_dir), RedisServer(redis_path)
    try:
        postgres.start()
        redis.start()
        database_url = postgres.create_database("bench_pages")
        yield {"database_url": database_url, "session_store": "redis", "redis_url": redis.url}
    finally:
        redis.stop()
        postgres.stop()


# -- switches: each builds the app without one speed-up ----------------------------------------
# A switch is (a context the app is built and warmed up in, a change to the built app).

Switch = tuple[Callable[[], AbstractContextManager[Any]], Callable[[Any], None]]


@contextmanager
def patched(module: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def unchanged(app: Any) -> None:
    pass


def _holds(function: Any, thing: Any) -> bool:
    return any(cell.cell_contents is thing for cell in function.__closure__ or ())


def _plain_cookies(app: Any) -> None:
    app.session_interface = SecureCookieSessionInterface()


def _plain_csrf(app: Any) -> None:
    """Flask-WTF's own `csrf_token()` in templates, signing on every page."""
    memo = app.extensions[csrf_tokens.EXTENSION]
    processors = app.template_context_processors[None]
    processors[:] = [p for p in processors if not _holds(p, memo)]
    app.extensions[csrf_tokens.EXTENSION] = generate_csrf


def _limiter_everywhere() -> AbstractContextManager[Any]:
    return patched(rate_limits, "counted_only_on", lambda limiter, counted: None)


def _texts_found_per_text(app: Any) -> None:
    """Flask-Babel's template gettext, which finds the page's catalog for every text."""
    processors = app.template_context_processors[None]
    processors[:] = [p for p in processors if p is not i18n.page_texts]


def _plain_url_for(app: Any) -> None:
    app.jinja_env.globals["url_for"] = app.url_for


@contextmanager
def _core_statements() -> Iterator[None]:
    from adapters.openid import store as openid_store
    from adapters.sql import audit, stores
    from adapters.sql.statements import CoreStatements

    with ExitStack() as undone:
        for module in (stores, audit, openid_store):
            undone.enter_context(patched(module, "CompiledStatements", CoreStatements))
        yield


def _translated_at_every_render() -> AbstractContextManager[Any]:
    from flask.templating import Environment

    import entrypoints.app

    return patched(entrypoints.app, "PageTemplates", Environment)


SWITCHES: dict[str, Switch] = {
    "session cookie memo (session_cookies.py)": (nullcontext, _plain_cookies),
    "CSRF token memo (csrf_tokens.py)": (nullcontext, _plain_csrf),
    "limiter only on limited pages (rate_limits.counted_only_on)": (_limiter_everywhere, unchanged),
    "url_for memo (templates' links)": (nullcontext, _plain_url_for),
    "page texts bound once (i18n.page_texts)": (nullcontext, _texts_found_per_text),
    "constant texts translated once per language (page_templates.PageTemplates)": (
        _translated_at_every_render,
        unchanged,
    ),
    "compiled statements (the stores, audit trail and OpenID store on CoreStatements)": (
        _core_statements,
        unchanged,
    ),
}


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    app: Any
    reader: Any = None
    kind: str = "microblog"  # or "tutorial": how bench.steps signs people in
    logins: list[float] = field(default_factory=list)  # per round: median CPU us per sign-in
    pages: list[float] = field(default_factory=list)  # per round: median CPU us per page


def _cpu_of(request: Callable[[], Any], spent: list[float]) -> Any:
    started = time.thread_time()
    response = request()
    spent.append((time.thread_time() - started) * 1e6)
    return response


def sign_ins(variant: Variant, op: str, prefix: str, count: int) -> list[float]:
    totals = []
    for n in range(count):
        spent: list[float] = []
        log_in_and_out(
            variant.app, variant.kind, op, f"{prefix}{n}", lambda _, r, s=spent: _cpu_of(r, s)
        )
        totals.append(sum(spent))
    return totals


def pages(variant: Variant, count: int) -> list[float]:
    spent: list[float] = []
    for _ in range(count):
        page = _cpu_of(lambda: variant.reader.get("/index"), spent)
        assert page.status_code == 200 and "Set-Cookie" not in page.headers, page.headers
    return spent


def build(name: str, switch: Switch | None, op: str, **settings: str) -> Variant:
    building, change = switch or (nullcontext, unchanged)
    with building():
        folder = tempfile.mkdtemp(prefix="microblog-speedups-")
        variant = Variant(name, bench_app(folder, **settings))
        change(variant.app)
        # Built and warmed up inside the switch: the stores are made on first use.
        sign_ins(variant, op, f"warm-{len(name)}-", WARM_UP_LOGINS)
        variant.reader = signed_in_reader(variant.app, "microblog", op)
        pages(variant, WARM_UP_PAGES)
    return variant


def compare(rounds: int, logins: int, page_count: int, names: list[str] | None) -> list[Variant]:
    """The shipped app first, then its copy, then one variant per speed-up switched off."""
    chosen = [n for n in SWITCHES if names is None or any(w in n for w in names)]
    op = f"http://127.0.0.1:{free_port()}"
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        variants = [build(SHIPPED, None, op), build(SAME_AGAIN, None, op)]
        variants += [build(n, SWITCHES[n], op) for n in chosen]
        # As gunicorn's workers do after loading the app (bench.profile): the apps' own
        # objects stay out of the collector's way, which would charge them to whichever
        # variant's request happens to trigger a full collection.
        gc.collect()
        gc.freeze()
        order = random.Random(0)
        for r in range(rounds):
            # Each variant in turn (one sign-in, PAGES_IN_TURN pages), in an order drawn again
            # each time: all see the same moments of the machine.
            spent: dict[str, tuple[list[float], list[float]]] = {v.name: ([], []) for v in variants}
            for n in range(logins):
                for v in order.sample(variants, len(variants)):
                    spent[v.name][0].extend(sign_ins(v, op, f"r{r}-{n}-", 1))
            for _ in range(page_count // PAGES_IN_TURN):
                for v in order.sample(variants, len(variants)):
                    spent[v.name][1].extend(pages(v, PAGES_IN_TURN))
            for v in variants:
                v.logins.append(statistics.median(spent[v.name][0]))
                v.pages.append(statistics.median(spent[v.name][1]))
    return variants


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def samples(variants: list[Variant]) -> dict[str, list[float]]:
    """Per row, one figure a round: the shipped app's CPU, then for each speed-up the cost
    without it over the cost with it."""
    shipped, *others = variants
    out = {
        f"{SHIPPED}: CPU per sign-in, us": shipped.logins,
        f"{SHIPPED}: CPU per signed-in page, us": shipped.pages,
    }
    for v in others:
        for what, mine, theirs in (
            ("sign-in", v.logins, shipped.logins),
            ("signed-in page", v.pages, shipped.pages),
        ):
            ratios = [m / t for m, t in zip(mine, theirs, strict=True)]
            out[f"without {v.name}: {what}, without / with"] = ratios
    return out


def profile_pages(count: int, top: int = PROFILE_TOP, **settings: str) -> str:
    """The top of a cProfile (CPU clock) of `count` signed-in index pages of the app (made
    with `settings`)."""
    op = f"http://127.0.0.1:{free_port()}"
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        variant = build(SHIPPED, None, op, **settings)
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for _ in range(count):
        variant.reader.get("/index")
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def store_pages(rounds: int, count: int) -> list[float]:
    """Per round, the median CPU of a signed-in index page with everything on PostgreSQL
    over the same with sessions in Redis (users on PostgreSQL), pages in turn."""
    with redis_sessions() as in_redis:
        on_postgres = {"database_url": in_redis["database_url"]}
        op = f"http://127.0.0.1:{free_port()}"
        with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
            both = [
                build("postgres", None, op, **on_postgres),
                build("redis", None, op, **in_redis),
            ]
        gc.collect()
        gc.freeze()
        order = random.Random(0)
        ratios = []
        for _ in range(rounds):
            medians = page_medians_in_turn(both, count, 1, order)
            ratios.append(medians["postgres"] / medians["redis"])
        return ratios


def page_medians_in_turn(
    variants: list[Variant], count: int, in_turn: int, order: random.Random
) -> dict[str, float]:
    """Each variant's median CPU of `count` signed-in pages, served `in_turn` at a time by each
    variant in an order drawn again each time, so that all see the same moments."""
    spent: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(count // in_turn):
        for v in order.sample(variants, len(variants)):
            spent[v.name].extend(pages(v, in_turn))
    return {name: statistics.median(figures) for name, figures in spent.items()}


def main() -> None:
    logging.disable(logging.INFO)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    logins = int(sys.argv[2]) if len(sys.argv) > 2 else LOGINS
    page_count = int(sys.argv[3]) if len(sys.argv) > 3 else PAGES
    names = os.environ.get("BENCH_SPEEDUPS")
    if rounds:  # 0: the profile alone
        variants = compare(rounds, logins, page_count, names.split(",") if names else None)
        print(f"Speed-ups, {rounds} rounds of {logins} sign-ins and {page_count} pages a variant:")
        for row, figures in samples(variants).items():
            print(f"  {row}: {spread(figures)}")
    if os.environ.get("BENCH_STORES"):
        ratios = store_pages(rounds or ROUNDS, page_count)
        print(f"Signed-in page CPU, all on PostgreSQL / sessions in Redis: {spread(ratios)}")
    if os.environ.get("BENCH_PROFILE") and os.environ.get("BENCH_PROFILE_STORE") == "redis":
        with redis_sessions() as settings:
            print(profile_pages(int(os.environ["BENCH_PROFILE"]), **settings))
    elif os.environ.get("BENCH_PROFILE"):
        print(profile_pages(int(os.environ["BENCH_PROFILE"])))


if __name__ == "__main__":
    main()
