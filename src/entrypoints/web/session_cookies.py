"""Flask's signed session cookie, with its signature checked once per cookie value.

A browser sends the same cookie on every page until the session changes, so a worker keeps
what a cookie it has verified holds, and checks only its age on later requests. The
signature is still checked by itsdangerous, as Flask does; nothing here signs or verifies.
"""

import copy
import time
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

# Cookies are at most 4 KB: this bounds what a worker keeps to a few megabytes.
VERIFIED_COOKIES_KEPT = 1024
IMMUTABLE = (str, int, float, bool, type(None))

Verify = Callable[[str], tuple[dict[str, Any], datetime]]


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookies; the signer is built once per set of keys, and each
    cookie value it accepted is remembered with the time it was signed."""

    _signing: tuple[object, URLSafeTimedSerializer | None, Verify | None] = (None, None, None)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        return self._signer(app)[0]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        verify = self._signer(app)[1]
        if verify is None:  # no secret key
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        try:
            data, signed_at = verify(cookie)
        except BadSignature:
            return self.session_class()
        age = time.time() - signed_at.timestamp()
        if not 0 <= age <= app.permanent_session_lifetime.total_seconds():
            return self.session_class()  # expired, or signed in the future
        return self.session_class(_own_copy(data))

    def _signer(self, app: Flask) -> tuple[URLSafeTimedSerializer | None, Verify | None]:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._signing[0] != keys:
            serializer = super().get_signing_serializer(app)
            verify = None
            if serializer is not None:
                # A bad signature raises, and lru_cache keeps no exceptions: only good cookies.
                loads = partial(serializer.loads, return_timestamp=True)
                verify = lru_cache(maxsize=VERIFIED_COOKIES_KEPT)(loads)
            self._signing = (keys, serializer, verify)
        return self._signing[1], self._signing[2]


def _own_copy(data: dict[str, Any]) -> dict[str, Any]:
    """What the session may change in place (the list of flashed messages) is its own."""
    flat = all(isinstance(value, IMMUTABLE) for value in data.values())
    return data if flat else copy.deepcopy(data)
