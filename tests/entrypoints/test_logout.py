"""Logging out from a page whose form has expired (issue 26, item 6).

Flask-WTF's token lasts WTF_CSRF_TIME_LIMIT (an hour): a Logout button on a page left open
longer must still sign out a same-origin request, and must never leave someone signed in
without saying so and offering a fresh button. A cross-site request still cannot log out."""

import re
import time

import pytest

from entrypoints.web import csrf_tokens
from tests.entrypoints.conftest import CSRF_FIELD, csrf_token, log_in

SITE = "http://127.0.0.1:5000"  # the default base URL of the tests' app
AN_HOUR_AND_A_BIT = 3600 + 61
LOGOUTS = ["/logout", "/logout/everywhere"]
SAME_ORIGIN = [{"Origin": SITE}, {"Sec-Fetch-Site": "same-origin"}]
NOT_SAME_ORIGIN = [
    {"Origin": "https://attacker.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:5001"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    # One header cannot vouch for a request the other says came from elsewhere.
    {"Origin": SITE, "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://attacker.example", "Sec-Fetch-Site": "same-origin"},
]


class Later:
    """Moves the clock of Flask-WTF's tokens (itsdangerous reads time.time()); no sleeping."""

    def __init__(self, monkeypatch) -> None:
        self.now = time.time()
        monkeypatch.setattr(time, "time", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def later(monkeypatch):
    return Later(monkeypatch)


def signed_in(client) -> bool:
    return client.get("/index").status_code == 200


def a_page_over_an_hour_old(client, later) -> str:
    """Signs in, loads the home page and leaves it open for over an hour: its token."""
    log_in(client)
    token = csrf_token(client, "/index")
    later.advance(AN_HOUR_AND_A_BIT)
    return token


def fresh_logout_form(page: str, path: str) -> str | None:
    """The token of the page's form that posts to `path`, if the page has one."""
    form = re.search(rf'<form[^>]*action="{re.escape(path)}"[^>]*>(.*?)</form>', page, re.S)
    found = CSRF_FIELD.search(form.group(1)) if form else None
    return found.group(1) if found else None


@pytest.mark.parametrize("path", LOGOUTS)
def test_an_hour_old_token_alone_no_longer_passes_the_csrf_check(client, later, path):
    token = a_page_over_an_hour_old(client, later)
    answer = client.post(path, data={"csrf_token": token})
    assert answer.status_code == 400
    assert signed_in(client)


@pytest.mark.parametrize("headers", SAME_ORIGIN)
@pytest.mark.parametrize("path", LOGOUTS)
def test_a_same_origin_logout_from_a_page_over_an_hour_old_signs_out(client, later, path, headers):
    token = a_page_over_an_hour_old(client, later)
    answer = client.post(path, data={"csrf_token": token}, headers=headers)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/login")
    assert not signed_in(client)


@pytest.mark.parametrize("headers", SAME_ORIGIN)
def test_a_same_origin_logout_without_any_token_signs_out(client, headers):
    log_in(client)
    assert client.post("/logout", headers=headers).status_code == 302
    assert not signed_in(client)


@pytest.mark.parametrize("headers", [*NOT_SAME_ORIGIN, {}])
@pytest.mark.parametrize("path", LOGOUTS)
def test_an_expired_logout_not_known_to_be_same_origin_keeps_the_session_and_offers_a_fresh_button(
    client, later, path, headers
):
    token = a_page_over_an_hour_old(client, later)
    answer = client.post(path, data={"csrf_token": token}, headers=headers)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "This form has expired" in page
    assert "You are still signed in" in page
    assert signed_in(client)
    fresh = fresh_logout_form(page, path)
    assert fresh is not None and fresh != token
    assert client.post(path, data={"csrf_token": fresh}).status_code == 302
    assert not signed_in(client)


@pytest.mark.parametrize("headers", NOT_SAME_ORIGIN)
@pytest.mark.parametrize("path", LOGOUTS)
def test_a_cross_site_logout_without_a_token_does_not_sign_out(client, path, headers):
    log_in(client)
    assert client.post(path, headers=headers).status_code == 400
    assert signed_in(client)


def test_a_logout_with_a_fresh_token_and_no_origin_headers_signs_out(client):
    log_in(client)
    token = csrf_token(client, "/index")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not signed_in(client)


def test_an_expired_logout_of_someone_no_longer_signed_in_gets_the_plain_expired_page(
    client, later
):
    token = a_page_over_an_hour_old(client, later)
    client.post("/logout", headers={"Origin": SITE})
    answer = client.post("/logout", data={"csrf_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "You are still signed in" not in page
    assert fresh_logout_form(page, "/logout") is None


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://Blog.Example.com:443/microblog", "https://blog.example.com"),
        ("http://example.com:80", "http://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_the_sites_origin_is_what_a_browser_sends_for_its_base_url(base_url, origin):
    assert csrf_tokens._origin_of(base_url) == origin
