"""Coming back from signing out at a provider (GET /logout/return/<key>): the login page,
saying "You are signed out." only with the state the browser was sent there with, once.
The round trip through a real provider is in tests/e2e/test_oidc_logout.py."""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.web.auth import SIGN_OUT_KEY
from tests.entrypoints.conftest import log_in

SIGNED_OUT = "You are signed out."


def keep(client, **kept):
    with client.session_transaction() as session:
        session[SIGN_OUT_KEY] = kept


def test_the_state_kept_for_that_provider_shows_the_message_once(client):
    keep(client, provider="corp", state="s-1")
    page = client.get("/logout/return/corp", query_string={"state": "s-1"})
    assert page.status_code == 200 and SIGNED_OUT in page.get_data(as_text=True)
    assert 'name="provider"' in page.get_data(as_text=True), "the login page"
    again = client.get("/logout/return/corp", query_string={"state": "s-1"})
    assert again.status_code == 200 and SIGNED_OUT not in again.get_data(as_text=True)


@pytest.mark.parametrize(
    "kept, path",
    [
        ({"provider": "corp", "state": "s-1"}, "/logout/return/corp?state=s-2"),
        ({"provider": "corp", "state": "s-1"}, "/logout/return/corp"),
        ({"provider": "corp", "state": "s-1"}, "/logout/return/corp?state="),
        ({"provider": "corp", "state": "s-1"}, "/logout/return/other?state=s-1"),
        (None, "/logout/return/corp?state=s-1"),
        ({"provider": "corp"}, "/logout/return/corp?state=s-1"),
        ({"provider": 7, "state": ["s-1"]}, "/logout/return/corp?state=s-1"),
        ("not a mapping", "/logout/return/corp?state=s-1"),
    ],
)
def test_a_wrong_or_missing_state_shows_the_login_page_without_the_message(client, kept, path):
    if kept is not None:
        with client.session_transaction() as session:
            session[SIGN_OUT_KEY] = kept
    page = client.get(path)
    assert page.status_code == 200
    assert SIGNED_OUT not in page.get_data(as_text=True)


def test_coming_back_with_a_wrong_state_signs_nobody_out(client):
    log_in(client)
    keep(client, provider="fake", state="s-1")
    client.get("/logout/return/fake", query_string={"state": "wrong"})
    assert client.get("/index").status_code == 200


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(min_size=1, max_size=40), state=st.text(max_size=80))
def test_any_key_and_state_get_the_login_page_never_an_error(client, key, state):
    page = client.get(f"/logout/return/{quote(key, safe='')}", query_string={"state": state})
    assert page.status_code in (200, 308, 404)  # 308: werkzeug merging "//" in the path
    assert SIGNED_OUT not in page.get_data(as_text=True)


def test_logout_through_a_provider_that_does_not_sign_out_there_stays_local(client):
    log_in(client)
    page = client.post("/logout", headers={"Origin": "http://127.0.0.1:5000"})
    assert page.status_code == 302 and page.headers["Location"] == "/login"
    with client.session_transaction() as session:
        assert SIGN_OUT_KEY not in session
