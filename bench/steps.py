"""`python -m bench.steps [microblog|tutorial|floor|both|all] [logins] [pages]`: the CPU of
each request of a full login, then of `pages` signed-in index pages (200 unless said),
through the app's WSGI callable in this process (no server), the provider serving in another
thread. Thread CPU time, so the provider's work is not counted.

`both` runs this app and the tutorial's in turn, a login or a hundred pages each, and prints
this app's figures as ratios to the tutorial's: measured at the same moments on the same CPU,
the ratios hold while the machine's speed drifts. `all` adds the floor under both
(bench/floor_login_app.py: Flask, Flask-Login and python3-openid doing nothing else).

`PROFILE_STEP=4` also prints a cProfile (CPU clock) of the requests whose label starts with 4
(34: with 3 or 4; 8: the signed-in pages), which `PROFILE_FILE` keeps; `BENCH_LOGS=1` logs
JSON lines as gunicorn's workers do."""

import cProfile
import logging
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from openid import fetchers

from adapters.openid.fetcher import fetching_with
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
WARM_UP = 30
PAGES_IN_TURN = 100
# `both`: this app and the tutorial's; `all`: and the floor under both (bench/floor_login_app.py).
TOGETHER = {"both": ["microblog", "tutorial"], "all": ["microblog", "tutorial", "floor"]}


def make_app(kind: str, folder: str) -> Any:
    if kind == "tutorial":
        os.environ["TUTORIAL_WORKDIR"] = folder
        from bench.tutorial_app import app

        return with_its_own_fetcher(app)
    if kind == "floor":
        from bench.floor_login_app import app

        return with_its_own_fetcher(app)
    from adapters.sql.migrate import upgrade_database
    from entrypoints.app import create_app

    app = create_app(
        {
            "instance_path": folder,
            "base_url": "http://localhost",
            "secret_key": "bench-steps-secret-key-of-forty-characters",
            "providers": [{"key": "openid", "name": "OpenID"}],
            **{f"rate_limit_{name}": "off" for name in ("login", "identifier", "callback")},
        }
    )
    upgrade_database(app.extensions["container"].engine())
    return app


def with_its_own_fetcher(app: Any) -> Any:
    """The tutorial's app fetching with python3-openid's own fetcher, as when it runs alone:
    once this app's relying party has run in the process, python3-openid's process-wide fetcher
    refuses every call made outside one of its relying parties."""
    wsgi_app = app.wsgi_app

    def fetching_as_alone(environ: Any, start_response: Any) -> Any:
        with fetching_with(fetchers.ExceptionWrappingFetcher(fetchers.createHTTPFetcher())):
            return wsgi_app(environ, start_response)

    app.wsgi_app = fetching_as_alone
    return app


class Steps:
    def __init__(self, profile_step: str | None) -> None:
        self.costs: dict[str, list[float]] = {}
        self.profile_step = profile_step
        self.profiler = cProfile.Profile(time.thread_time)

    def timed(self, label: str, request: Callable[[], Any]) -> Any:
        profiling = label[0] in (self.profile_step or "")
        if profiling:
            self.profiler.enable()
        started = time.thread_time()
        response = request()
        self.costs.setdefault(label, []).append((time.thread_time() - started) * 1e6)
        if profiling:
            self.profiler.disable()
        return response


def log_in(app: Any, client: Any, kind: str, op: str, name: str, timed: Callable) -> Any:
    """From the anonymous index to the signed-in one; the index page's response."""
    provider = requests.Session()
    page = timed("1 GET /index, anonymous", lambda: client.get("/index"))
    login_path = page.headers["Location"]
    page = timed("2 GET the login page", lambda: client.get(login_path))
    form = {"csrf_token": CSRF_FIELD.search(page.get_data(as_text=True)).group(1)}
    identifier = f"{op}/id/{name}"
    ours = kind == "microblog"
    form |= {"provider": "openid", "identifier": identifier} if ours else {"openid": identifier}
    target = "/login" if ours else login_path
    page = timed("3 POST begin", lambda: client.post(target, data=form))
    answer = provider.get(page.headers["Location"], allow_redirects=False, timeout=30)
    back = urlsplit(answer.headers["Location"])
    page = timed("4 GET the return", lambda: client.get(f"{back.path}?{back.query}"))
    landing = urlsplit(page.headers["Location"]).path
    page = timed("5 GET /index", lambda: client.get(landing))
    assert b"<h1>Hi, " in page.data, page.data[:500]
    return page


def log_in_and_out(app: Any, kind: str, op: str, name: str, timed: Callable) -> None:
    client = app.test_client()
    page = log_in(app, client, kind, op, name, timed)
    if kind != "microblog":  # the tutorial's logout link, and the floor's
        page = timed("6 log out", lambda: client.get("/logout"))
        while page.status_code in (301, 302, 303):
            location = urlsplit(page.headers["Location"])
            path = f"{location.path}?{location.query}" if location.query else location.path
            label = "7 GET the login page" if location.path == "/login" else "6 log out"
            page = timed(label, lambda path=path: client.get(path))
    else:
        token = CSRF_FIELD.search(page.get_data(as_text=True)).group(1)
        page = timed("6 log out", lambda: client.post("/logout", data={"csrf_token": token}))
        location = page.headers["Location"]
        timed("7 GET the login page", lambda: client.get(location))


def signed_in_reader(app: Any, kind: str, op: str) -> Any:
    """A browser of `app` with one person signed in."""
    client = app.test_client()
    log_in(app, client, kind, op, "reader", lambda label, request: request())
    return client


def read_pages(client: Any, pages: int, timed: Callable) -> None:
    """The signed-in index page, `pages` times with the same cookies."""
    for _ in range(pages):
        page = timed("8 GET /index, signed in", lambda: client.get("/index"))
        assert page.status_code == 200 and "Set-Cookie" not in page.headers, page.headers


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "microblog"
    logins = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    pages = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    if os.environ.get("BENCH_LOGS"):
        from entrypoints.settings import configured_log_format
        from entrypoints.web.logs import configure_logging

        configure_logging(configured_log_format())
    else:
        logging.disable(logging.INFO)
    kinds = TOGETHER.get(kind, [kind])
    apps = {k: make_app(k, tempfile.mkdtemp(prefix=f"{k}-steps-")) for k in kinds}
    steps = {k: Steps(os.environ.get("PROFILE_STEP")) for k in kinds}
    op = f"http://127.0.0.1:{free_port()}"
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        for n in range(WARM_UP):
            for k, app in apps.items():
                log_in_and_out(app, k, op, f"warm{n}", lambda label, request: request())
        for n in range(logins):
            for k, app in apps.items():
                log_in_and_out(app, k, op, f"person{n}", steps[k].timed)
        readers = {k: signed_in_reader(app, k, op) for k, app in apps.items()}
        for _ in range(0, pages, PAGES_IN_TURN):
            for k in kinds:
                read_pages(readers[k], min(PAGES_IN_TURN, pages), steps[k].timed)
    totals = {k: report(k, steps[k], logins) for k in kinds}
    if "tutorial" in kinds and len(kinds) > 1:
        compare_with_the_tutorial(steps, totals)


def compare_with_the_tutorial(steps: dict[str, Steps], totals: dict[str, float]) -> None:
    others = [k for k in steps if k != "tutorial"]
    print(f"{' / '.join(others)}, each / the tutorial's, medians taken in turn:")
    labels = sorted({label for k in steps for label in steps[k].costs})
    theirs = {label: statistics.median(steps["tutorial"].costs.get(label, [0])) for label in labels}
    for label in labels:
        ratios = (
            f"{statistics.median(steps[k].costs[label]) / theirs[label]:5.2f}"
            if theirs[label] and label in steps[k].costs
            else "    -"
            for k in others
        )
        print(f"  {label:26} {'  '.join(ratios)}")
    ratios = (f"{totals[k] / totals['tutorial']:5.2f}" for k in others)
    print(f"  {'CPU per login (mean)':26} {'  '.join(ratios)}")


def report(kind: str, steps: Steps, logins: int) -> float:
    """Prints the steps' medians; returns the mean CPU ms per login."""
    total = 0.0
    for label in sorted(steps.costs):
        samples = steps.costs[label]
        per_login = not label.startswith("8")
        total += sum(samples) / logins if per_login else 0
        times = len(samples) // logins if per_login else len(samples)
        print(f"{label:26} median {statistics.median(samples):6.0f} us  x{times}")
    print(f"{kind}: {total / 1000:.2f} ms CPU per login (mean), {logins} logins")
    if steps.profile_step:
        stats = pstats.Stats(steps.profiler)
        stats.sort_stats("cumulative").print_stats(int(os.environ.get("BENCH_TOP", "50")))
        if os.environ.get("PROFILE_FILE"):
            stats.dump_stats(os.environ["PROFILE_FILE"])
    return total


if __name__ == "__main__":
    main()
