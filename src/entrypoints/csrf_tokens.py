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
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, g, session
from flask_wtf.csrf import generate_csrf

FIELD = "csrf_token"  # Flask-WTF's WTF_CSRF_FIELD_NAME, which this site keeps as it is
SIGNED_AGAIN_AFTER_SECONDS = 60
# Under a shorter WTF_CSRF_TIME_LIMIT, a minute off the token's validity would matter.
SHORTEST_LIMIT_KEPT_FOR_SECONDS = 600
TOKENS_KEPT = 1024
EXTENSION = "microblog_csrf_tokens"


class CsrfTokens:
    def __init__(self) -> None:
        # The first argument names the keys and the session value a token was signed for; the
        # second, the minute. An entry of an earlier minute is never asked for again. Flask-WTF
        # hands out the token it already made in this request, if any, and signs otherwise.
        self._signed = lru_cache(maxsize=TOKENS_KEPT)(lambda _for, _minute: generate_csrf())

    def __call__(self) -> str:
        made = g.get(FIELD)  # already made for this request
        if made is not None:
            return str(made)
        config = current_app.config
        if _short_time_limit(config):
            return str(generate_csrf())
        secret = session.get(FIELD)
        if not isinstance(secret, str):
            generate_csrf()  # the session's first secret value, signed: this minute's token
            secret = session[FIELD]
        minute = int(time.time() // SIGNED_AGAIN_AFTER_SECONDS)
        keys = (config.get("WTF_CSRF_SECRET_KEY"), config["SECRET_KEY"])
        token = str(self._signed((*keys, secret), minute))
        setattr(g, FIELD, token)  # where Flask-WTF looks first for the rest of the request
        return token


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
