"""The CSRF token a page's forms carry, signed by Flask-WTF at most once a minute per session.

Flask-WTF signs the session's secret CSRF value afresh on every page with a form (a
timestamped signature, about a tenth of a signed-in page's time). A worker keeps the token it
signed for a session's value and hands it out again for a minute. What it hands out is still
Flask-WTF's own token, checked by Flask-WTF on the next POST; it is at most a minute older than
a fresh one, which shortens its validity (WTF_CSRF_TIME_LIMIT, an hour by default) by that
much. Tokens are kept per secret key (Flask-WTF's own, if set, and the app's) and per session
value, so no two sessions ever share one.
"""

import time
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import CSRFProtect, generate_csrf

from entrypoints.web.deps import container

FIELD = "csrf_token"  # Flask-WTF's WTF_CSRF_FIELD_NAME, which this site keeps as it is
SIGNED_AGAIN_AFTER_SECONDS = 60
# Under a shorter WTF_CSRF_TIME_LIMIT, a minute off the token's validity would matter.
SHORTEST_LIMIT_KEPT_FOR_SECONDS = 600
TOKENS_KEPT = 1024
EXTENSION = "microblog_csrf_tokens"
THIS_REQUESTS_TOKEN = "microblog_csrf_token"  # in `g`: a page's forms share one token
DEFAULT_PORTS = {"http": 80, "https": 443}
P = ParamSpec("P")
R = TypeVar("R")

# The site's CSRF protection: every POST carries a token, checked before any view runs,
# except in the views marked `csrf.exempt` (create_app calls `csrf.init_app`).
csrf = CSRFProtect()


class CsrfTokens:
    def __init__(self) -> None:
        # The first argument names the keys and the session value a token was signed for; the
        # second, the minute. An entry of an earlier minute is never asked for again.
        self._signed = lru_cache(maxsize=TOKENS_KEPT)(lambda _for, _minute: generate_csrf())

    def __call__(self) -> str:
        made = g.get(THIS_REQUESTS_TOKEN)
        if made is None:
            made = g.setdefault(THIS_REQUESTS_TOKEN, self._token())
        return str(made)

    def _token(self) -> str:
        config = current_app.config
        if _short_time_limit(config):
            return str(generate_csrf())
        secret = session.get(FIELD)
        if not isinstance(secret, str):
            generate_csrf()  # the session's first secret value, signed: this minute's token
            secret = session[FIELD]
        minute = int(time.time() // SIGNED_AGAIN_AFTER_SECONDS)
        keys = (config.get("WTF_CSRF_SECRET_KEY"), config["SECRET_KEY"])
        return str(self._signed((*keys, secret), minute))


def _short_time_limit(config: Mapping[str, Any]) -> bool:
    limit = config.get("WTF_CSRF_TIME_LIMIT", 3600)
    return limit is not None and limit < SHORTEST_LIMIT_KEPT_FOR_SECONDS


def sign_csrf_tokens_once_a_minute(app: Flask) -> None:
    """Templates' `csrf_token()`; registered after CSRFProtect's, so that it takes its place."""
    tokens = CsrfTokens()
    app.extensions[EXTENSION] = tokens
    app.context_processor(lambda: {FIELD: tokens})


def csrf_token() -> str:
    """This request's token, the one its page's forms carry (and the session's secret value,
    made if it has none yet)."""
    tokens: CsrfTokens = current_app.extensions[EXTENSION]
    return tokens()


def same_origin_or_csrf_token(view: Callable[P, R]) -> Callable[P, R]:
    """For a view exempted from CSRFProtect's check: a request the browser says came from
    this site's own pages goes through without a token (OWASP's CSRF cheat sheet: Fetch
    Metadata and the Origin header); any other needs a valid token, or gets the CSRF error.

    So a Logout button on a page left open longer than the token lasts still works."""

    @wraps(view)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_app.config["WTF_CSRF_ENABLED"] and not came_from_this_site():
            csrf.protect()  # raises CSRFError: the error page offers a fresh form
        return view(*args, **kwargs)

    return checked


def came_from_this_site() -> bool:
    """True when the request says it came from this site's origin (the base URL's), and
    nothing in it says otherwise: Sec-Fetch-Site "same-origin" or an Origin equal to the
    site's, and neither header naming another. Without either header: False."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if fetch_site is None and origin is None:
        return False
    site = _origin_of(container().config.base_url())
    return fetch_site in (None, "same-origin") and origin in (None, site)


@lru_cache(maxsize=8)
def _origin_of(base_url: str) -> str:
    """The origin a browser sends for pages under `base_url`: scheme://host[:port], the
    port left out when it is the scheme's default."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = "" if parts.port in (None, DEFAULT_PORTS.get(parts.scheme)) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"
