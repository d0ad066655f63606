"""`python -m bench.stages [pages]`: where a signed-in index page spends its CPU, stage by
stage, through the app's WSGI callable in this process (no server): the session cookie, the
before- and after-request hooks, the user loader, the posts, the template, the response.

Each stage is wrapped in a thread-CPU timer; stages nest (the view holds the user loader, the
posts and the template), so the lines do not add up. The timers cost a little themselves.
Unlike a profiler, this does not inflate code that makes many small calls."""

import functools
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import flask.templating
import flask_wtf.csrf

import entrypoints.web.csrf_tokens
from bench.steps import log_in, make_app
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served

WARM_UP = 300
ROUNDS = 5


class StageTimers:
    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        spent = self.spent

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time_ns()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.thread_time_ns() - started

        return timed


def time_stages(app: Any, timers: StageTimers) -> None:
    """Puts a timer around each stage of a request in `app`."""
    cookies = app.session_interface
    cookies.open_session = timers.wrap("session cookie: open", cookies.open_session)
    cookies.save_session = timers.wrap("session cookie: save", cookies.save_session)
    app.wsgi_app = timers.wrap("the whole request (WSGI)", app.wsgi_app)
    app.preprocess_request = timers.wrap("before-request hooks", app.preprocess_request)
    app.process_response = timers.wrap("after-request hooks", app.process_response)
    app.do_teardown_request = timers.wrap("teardown hooks", app.do_teardown_request)
    app.make_response = timers.wrap("the view's answer to a response", app.make_response)
    login = app.login_manager
    login._user_callback = timers.wrap("  user loader (session + user)", login._user_callback)
    index = app.view_functions["pages.index"]
    app.view_functions["pages.index"] = timers.wrap("the view", index)
    timelines = type(app.extensions["container"].timelines())
    timelines.recent_by = timers.wrap("  posts", timelines.recent_by)
    flask.templating._render = timers.wrap("  template", flask.templating._render)  # type: ignore[attr-defined]
    # Flask-WTF's signing, wherever it is called: the site's token memo on a miss, Flask-WTF
    # itself elsewhere (both look the function up by its name at each call).
    for module in (flask_wtf.csrf, entrypoints.web.csrf_tokens):
        module.generate_csrf = timers.wrap("    CSRF token signed", module.generate_csrf)


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    logging.disable(logging.INFO)
    app = make_app("microblog", tempfile.mkdtemp(prefix="microblog-stages-"))
    op = f"http://127.0.0.1:{free_port()}"
    client = app.test_client()
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        log_in(app, client, "microblog", op, "reader", lambda label, request: request())
    timers = StageTimers()
    time_stages(app, timers)
    for _ in range(WARM_UP):
        client.get("/index")
    rounds: list[Counter[str]] = []
    for _ in range(ROUNDS):
        timers.spent.clear()
        started = time.thread_time_ns()
        for _ in range(pages):
            assert client.get("/index").status_code == 200
        timers.spent["the test client's request, all told"] = time.thread_time_ns() - started
        rounds.append(Counter(timers.spent))
    print(f"A signed-in index page, CPU us per page (median of {ROUNDS} rounds of {pages}):")
    for name, _ in rounds[-1].most_common():
        median = statistics.median(r[name] for r in rounds) / pages / 1000
        print(f"{median:8.1f}  {name}")


if __name__ == "__main__":
    main()
