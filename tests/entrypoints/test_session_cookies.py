import time
from datetime import timedelta

import pytest
from flask import request
from hypothesis import given, settings
from hypothesis import strategies as st

from entrypoints.web import session_cookies
from tests.entrypoints.conftest import log_in, make_app


def cookie_holding(app, data) -> str:
    return app.session_interface.get_signing_serializer(app).dumps(data)


def opened(app, cookie: str):
    with app.test_request_context("/", environ_base={"HTTP_COOKIE": f"session={cookie}"}):
        return app.session_interface.open_session(app, request)


def test_a_cookie_seen_before_opens_to_the_same_session(app):
    cookie = cookie_holding(app, {"_user_id": "token", "csrf_token": "abc"})
    assert opened(app, cookie) == opened(app, cookie) == {"_user_id": "token", "csrf_token": "abc"}


def test_a_cookie_signed_in_the_future_is_refused(app, monkeypatch):
    cookie = cookie_holding(app, {"_user_id": "token"})
    earlier = time.time() - 60
    monkeypatch.setattr(session_cookies.time, "time", lambda: earlier)
    assert opened(app, cookie) == {}


def test_what_one_request_adds_to_a_remembered_session_stays_out_of_the_next(app):
    cookie = cookie_holding(app, {"_flashes": [("info", "Welcome")], "_user_id": "token"})
    first = opened(app, cookie)
    first["_flashes"].append(("info", "Only for the first request"))
    first["_user_id"] = "someone else"
    assert opened(app, cookie) == {"_flashes": [("info", "Welcome")], "_user_id": "token"}


def test_a_cookie_of_the_old_key_is_refused_after_the_key_changes(app):
    cookie = cookie_holding(app, {"_user_id": "token"})
    assert opened(app, cookie) == {"_user_id": "token"}
    app.secret_key = "another-secret-key-of-more-than-thirty-two-characters"
    assert opened(app, cookie) == {}


def test_a_tampered_cookie_is_refused_each_time(app):
    cookie = cookie_holding(app, {"_user_id": "token"})
    payload, signature = cookie.rsplit(".", 1)
    tampered = f"{payload}.{signature[::-1]}"
    assert opened(app, tampered) == opened(app, tampered) == {}


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    return make_app(tmp_path_factory.mktemp("cookies"))


@settings(max_examples=100, deadline=None)
@given(cookie=st.text(max_size=300))
def test_any_cookie_value_of_no_signature_opens_to_an_empty_session(shared_app, cookie):
    assert opened(shared_app, cookie) == {}


def test_a_signed_in_page_keeps_working_on_its_remembered_cookie(client):
    log_in(client, nickname="alice")
    for _ in range(3):
        assert "<h1>Hi, alice!</h1>" in client.get("/index").get_data(as_text=True)


# 31 days is Flask's default; the lifetime is read on each request, not kept with the cookie.
@pytest.mark.parametrize("lifetime", [timedelta(days=31), timedelta(hours=1)])
def test_a_cookie_seen_before_is_refused_once_it_outlives_the_session_lifetime(
    app, monkeypatch, lifetime
):
    app.permanent_session_lifetime = lifetime
    cookie = cookie_holding(app, {"_user_id": "token"})
    assert opened(app, cookie) == {"_user_id": "token"}
    later = time.time() + lifetime.total_seconds() + 5
    monkeypatch.setattr(session_cookies.time, "time", lambda: later)
    assert opened(app, cookie) == {}
