from datetime import UTC, datetime, timedelta

import pytest
from dependency_injector import providers

from devtools.dev_provider import dev_provider_profile
from tests.e2e.site import login_path
from tests.fakes import FakeClock


def user_lines(site):
    result = site.cli("users", "list")
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_a_stranger_is_sent_to_the_login_page(site):
    page = site.visitor().get("/")
    assert page.url == f"{site.url}/login?next=%2F"
    assert "Please log in to access this page." in page.text
    assert 'name="csrf_token"' in page.text
    assert ">Sign in with Dev OpenID</button>" in page.text and "Remember me" in page.text


def test_first_login_provisions_the_user_and_greets_them(site):
    page = site.visitor().sign_in("alice", email="alice@example.com")
    assert page.url == f"{site.url}/index"
    assert "<h1>Hi, alice!</h1>" in page.text
    assert "No posts yet." in page.text
    [line] = user_lines(site)
    assert line.split("\t")[1:4] == ["alice", "alice@example.com", "active"]


def test_second_login_with_the_same_identity_reuses_the_user(site):
    site.visitor().sign_in("alice")
    again = site.visitor()
    again.sign_in("alice", email="new-address@example.com")
    assert again.greeting() == "alice"
    site.visitor().sign_in("bob")
    assert [line.split("\t")[1] for line in user_lines(site)] == ["alice", "bob"]


def test_the_index_lists_the_users_own_posts(site):
    site.visitor().sign_in("alice")
    with site.services.unit_of_work() as uow:
        alice = uow.users.by_nickname("alice")
        uow.posts.add(alice.id, "Beautiful day in Portland!", alice.created_at)
        uow.commit()
    page = site.visitor().sign_in("alice")
    assert "<b>alice</b> says: Beautiful day in Portland!" in page.text


def test_a_signed_in_user_visiting_the_login_page_goes_to_the_index(site):
    visitor = site.visitor()
    visitor.sign_in("alice")
    assert visitor.get("/login").url == f"{site.url}/index"


def test_a_login_starts_a_fresh_session_with_a_new_token(site):
    visitor = site.visitor()
    visitor.sign_in("alice")
    first = site.decode_session(visitor.cookies_named("session")["session"])
    planted = site.encode_session({"planted": "by an attacker", **first})
    visitor.http.cookies.set("session", planted, domain="127.0.0.1", path="/")
    visitor.log_out()
    visitor.sign_in("alice")
    second = site.decode_session(visitor.cookies_named("session")["session"])
    assert second["_user_id"] != first["_user_id"]
    assert "planted" not in second and "login_transaction" not in second


def test_remember_me_survives_a_new_browser_session(site):
    visitor = site.visitor()
    visitor.sign_in("alice", remember=True)
    restarted = visitor.with_cookies(visitor.cookies_named("remember_token"))
    assert restarted.greeting() == "alice"


def test_without_remember_me_a_new_browser_session_is_signed_out(site):
    visitor = site.visitor()
    visitor.sign_in("alice")
    assert visitor.cookies_named("remember_token") == {}
    restarted = visitor.with_cookies(visitor.cookies_named("remember_token"))
    assert restarted.greeting() is None


@pytest.mark.parametrize("kept", [("session",), ("remember_token",), ("session", "remember_token")])
def test_logout_revokes_copies_of_the_cookies_taken_before(site, kept):
    visitor = site.visitor()
    visitor.sign_in("alice", remember=True)
    copy = visitor.with_cookies(visitor.cookies_named(*kept))
    assert copy.greeting() == "alice"
    copy = visitor.with_cookies(visitor.cookies_named(*kept))
    page = visitor.log_out()
    assert page.url == f"{site.url}/login" and "You have been logged out." in page.text
    assert visitor.greeting() is None
    assert copy.greeting() is None


def test_logout_everywhere_signs_out_every_browser(site):
    laptop, phone = site.visitor(), site.visitor()
    laptop.sign_in("alice", remember=True)
    phone.sign_in("alice", remember=True)
    page = laptop.log_out(everywhere=True)
    assert "logged out everywhere (2 sessions ended)" in page.text
    assert laptop.greeting() is None and phone.greeting() is None


def test_after_login_the_user_lands_on_the_page_they_asked_for(site):
    visitor = site.visitor()
    page = visitor.approve(visitor.start_sign_in(path="/index?page=2&sort=new"), "alice")
    assert page.url == f"{site.url}/index?page=2&sort=new"
    assert "<h1>Hi, alice!</h1>" in page.text


@pytest.mark.parametrize(
    "hostile",
    [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "\\\\evil.example",
        " //evil.example",
        "/%0a/evil.example\n",
    ],
)
def test_a_hostile_next_is_ignored(site, hostile):
    page = site.visitor().sign_in("alice", path=login_path(hostile))
    assert page.url == f"{site.url}/index"
    assert all(response.headers.get("Location", "").find("evil") < 0 for response in page.history)


def test_a_login_form_without_csrf_token_is_refused(site):
    page = site.visitor().start_sign_in(csrf=False)
    assert page.status_code == 400
    assert "did not come from this site" in page.text
    assert page.url == f"{site.url}/login"  # never sent to the provider


def test_a_logout_without_csrf_token_is_refused(site):
    visitor = site.visitor()
    visitor.sign_in("alice")
    assert visitor.post("/logout", {}).status_code == 400
    assert visitor.greeting() == "alice"


def test_a_disabled_user_is_refused_and_signed_out_of_existing_sessions(site):
    visitor = site.visitor()
    visitor.sign_in("alice", remember=True)
    remembered = visitor.with_cookies(visitor.cookies_named("remember_token"))
    assert site.cli("users", "disable", "alice").exit_code == 0
    assert visitor.greeting() is None and remembered.greeting() is None
    refused = site.visitor().sign_in("alice")
    assert refused.status_code == 403
    assert "This account is disabled." in refused.text
    assert site.cli("users", "enable", "alice").exit_code == 0
    assert site.visitor().sign_in("alice").status_code == 200


def test_an_untrusted_provider_cannot_enter_an_account_by_its_email(site):
    site.visitor().sign_in("alice", email="alice@example.com")
    intruder = site.visitor()
    page = intruder.sign_in(
        None, email="alice@example.com", provider="openid", identifier=f"{site.op}/id/mallory"
    )
    # Its email is not verified, so it is not even looked up: a new account, without it.
    assert page.status_code == 200 and intruder.greeting() == "mallory"
    lines = [line.split("\t")[1:3] for line in user_lines(site)]
    assert lines == [["alice", "alice@example.com"], ["mallory", "-"]]


def test_cancelling_at_the_provider_says_so(site):
    visitor = site.visitor()
    page = visitor.approve(visitor.start_sign_in(), decision="cancel")
    assert page.status_code == 400
    assert "Sign-in was cancelled." in page.text
    assert user_lines(site) == []


def test_a_replayed_provider_answer_is_refused(site):
    visitor = site.visitor()
    page = visitor.approve(visitor.start_sign_in(), "alice", "")
    answer = page.history[0].headers["Location"]
    replay = site.visitor().http.get(answer, timeout=10)
    assert replay.status_code == 400
    assert "expired or was already used" in replay.text


def test_a_session_expires_after_its_lifetime(site):
    clock = FakeClock(datetime.now(UTC))
    with site.services.clock.override(providers.Object(clock)):
        visitor = site.visitor()
        visitor.sign_in("alice")
        for _ in range(24):  # 11 h 36 min, used every 29 minutes: never idle for too long
            clock.advance(timedelta(minutes=29))
            assert visitor.greeting() == "alice"
        clock.advance(timedelta(minutes=25))  # 12 h 1 min: past its lifetime
        assert visitor.greeting() is None


def test_a_session_left_unused_past_the_idle_limit_sends_the_visitor_to_the_login_page(site):
    clock = FakeClock(datetime.now(UTC))
    with site.services.clock.override(providers.Object(clock)):
        visitor = site.visitor()
        visitor.sign_in("alice")
        clock.advance(timedelta(minutes=29))
        assert visitor.greeting() == "alice"
        clock.advance(timedelta(minutes=30))
        assert visitor.greeting() is None
        remembered = site.visitor()
        remembered.sign_in("bob", remember=True)
        clock.advance(timedelta(days=2))
        assert remembered.greeting() == "bob"


# Long enough that python3-openid's server sends the answer back by an auto-submitted POST
# (OpenID 2.0 section 5.2.1: answers over 2,047 characters), as many real providers do.
LONG_EMAIL = "a" * 2100 + "@example.com"


def test_a_long_answer_posted_back_cross_site_signs_the_person_in(site):
    visitor = site.visitor()
    answer_page = visitor.approve(visitor.start_sign_in(remember=True), "alice", LONG_EMAIL)
    assert answer_page.status_code == 200 and 'method="post"' in answer_page.text
    page = visitor.post_back(answer_page)
    assert page.url == f"{site.url}/index"
    assert "<h1>Hi, alice!</h1>" in page.text
    assert visitor.with_cookies(visitor.cookies_named("remember_token")).greeting() == "alice"


def test_a_replayed_post_back_is_refused(site):
    visitor = site.visitor()
    answer_page = visitor.approve(visitor.start_sign_in(), "alice", LONG_EMAIL)
    assert visitor.post_back(answer_page).url == f"{site.url}/index"
    for replayer in (visitor, site.visitor()):
        replayer.start_sign_in()  # a login in flight, which the old answer must not finish
        page = replayer.post_back(answer_page)
        assert page.status_code == 400
        assert "Please sign in again." in page.text
    assert len(user_lines(site)) == 1


def test_a_forged_post_back_is_refused(site):
    visitor = site.visitor()
    answer_page = visitor.approve(visitor.start_sign_in(), "alice", LONG_EMAIL)
    page = visitor.post_back(answer_page, **{"openid.sig": "Zm9yZ2Vk"})
    assert page.status_code == 400
    assert "could not be verified" in page.text
    assert visitor.greeting() is None and user_lines(site) == []


def test_a_typed_identifier_and_the_provider_button_reach_the_same_user(site):
    typed = site.visitor()
    typed.sign_in(None, provider="openid", identifier=f"{site.op}/id/alice")
    assert typed.greeting() == "alice"
    button = site.visitor()
    button.sign_in("alice")
    assert button.greeting() == "alice"
    assert [line.split("\t")[1] for line in user_lines(site)] == ["alice"]


@pytest.mark.postgres
@pytest.mark.server_error
def test_a_database_outage_during_the_return_gives_the_503_page(op, tmp_path):
    import os

    from devtools.servers import PostgresServer, postgres_bin_dir
    from tests.e2e.site import Site, served_app

    if postgres_bin_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(postgres_bin_dir())
    server.start()
    config = {
        "instance_path": str(tmp_path / "instance"),
        "database_url": server.url(),
        "secret_key": "e2e-secret-key",
        "providers": [dev_provider_profile(op)],
    }
    try:
        with served_app(config) as (url, app):
            visitor = Site(url, app, op).visitor()
            provider_page = visitor.start_sign_in()
            server.pause()
            try:
                page = visitor.approve(provider_page, "alice")
            finally:
                server.resume()
            assert page.status_code == 503
            assert "trouble with its database" in page.text and "Traceback" not in page.text
            assert visitor.sign_in("alice").url == f"{url}/index", "it recovers by itself"
    finally:
        server.stop()
