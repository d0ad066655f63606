from types import SimpleNamespace

import pytest

from entrypoints.web import csrf_tokens
from tests.entrypoints.conftest import CSRF_FIELD, csrf_token, log_in


class Signings:
    """Counts Flask-WTF's signings, and moves the minute the tokens are kept for."""

    def __init__(self, monkeypatch):
        self.count = 0
        self.now = 1_000_000.0
        real = csrf_tokens.generate_csrf

        def counted():
            self.count += 1
            return real()

        monkeypatch.setattr(csrf_tokens, "generate_csrf", counted)
        monkeypatch.setattr(csrf_tokens, "time", SimpleNamespace(time=lambda: self.now))


@pytest.fixture
def signings(monkeypatch):
    return Signings(monkeypatch)


def logged_out(client, token) -> bool:
    answer = client.post("/logout", data={"csrf_token": token})
    return answer.status_code == 302 and client.get("/index").status_code == 302


def test_a_session_gets_one_signed_token_a_minute_and_it_is_accepted(client, signings):
    log_in(client)
    first = csrf_token(client, "/index")
    signed = signings.count
    assert [csrf_token(client, "/index") for _ in range(3)] == [first] * 3
    assert signings.count == signed
    assert logged_out(client, first)


def test_a_new_minute_signs_the_token_again(client, signings):
    log_in(client)
    csrf_token(client, "/index")
    signed = signings.count
    signings.now += csrf_tokens.SIGNED_AGAIN_AFTER_SECONDS
    assert logged_out(client, csrf_token(client, "/index"))
    assert signings.count == signed + 1


def test_two_sessions_never_share_a_token(app, signings):
    alice, bob = app.test_client(), app.test_client()
    log_in(alice, "https://id.example/alice")
    log_in(bob, "https://id.example/bob")
    alices, bobs = csrf_token(alice, "/index"), csrf_token(bob, "/index")
    assert alices != bobs
    assert not logged_out(bob, alices)
    assert logged_out(bob, bobs)


def test_a_session_that_starts_again_gets_a_token_of_its_own(client, signings):
    log_in(client)
    before = csrf_token(client, "/index")
    assert logged_out(client, before)  # logging out clears the session and its secret value
    log_in(client)
    after = csrf_token(client, "/index")
    assert after != before
    assert logged_out(client, after)


@pytest.mark.parametrize("changed", ["the app's", "Flask-WTF's own"])
def test_a_new_secret_key_gets_tokens_signed_with_it(app, client, signings, changed):
    log_in(client)
    old = csrf_token(client, "/index")
    new_key = "another-secret-key-of-more-than-thirty-two-characters"
    if changed == "the app's":
        app.secret_key = new_key
        log_in(client)  # the old key's cookie is refused: a new session
    else:
        app.config["WTF_CSRF_SECRET_KEY"] = new_key
    new = csrf_token(client, "/index")
    assert new != old
    assert logged_out(client, new)


def test_a_short_csrf_time_limit_gets_a_freshly_signed_token_on_every_page(app, client, signings):
    app.config["WTF_CSRF_TIME_LIMIT"] = 120
    log_in(client)
    csrf_token(client, "/index")
    signed = signings.count
    csrf_token(client, "/index")
    assert signings.count == signed + 1


def test_the_first_page_after_signing_in_keeps_the_cookie_the_sign_in_set(client):
    signed_in = log_in(client)
    assert "Set-Cookie" in signed_in.headers
    first_page = client.get("/index")
    assert first_page.status_code == 200
    assert "Set-Cookie" not in first_page.headers
    assert logged_out(client, CSRF_FIELD.search(first_page.get_data(as_text=True)).group(1))
