from urllib.parse import urlsplit

import pytest
from dependency_injector import providers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from werkzeug.urls import iri_to_uri

from adapters.sql.migrate import upgrade_database
from domain.errors import (
    AccountDisabled,
    IdentityBelongsToAnotherAccount,
    InvalidIdentifier,
    ProviderUnavailable,
    SignInCancelled,
    SignInFailed,
    StoreUnavailable,
    TooManyConflicts,
)
from entrypoints.app import create_app
from entrypoints.settings import ConfigurationError
from entrypoints.web.account import browser_of
from tests.entrypoints.conftest import FAKE_ENTRY, log_in, make_app, start_login, state_of


def test_a_login_through_the_container_provider_greets_the_user(client, fake_provider):
    page = log_in(client, nickname="alice")
    assert page.status_code == 302 and page.headers["Location"] == "/index"
    assert "<h1>Hi, alice!</h1>" in client.get("/index").get_data(as_text=True)
    [begun] = fake_provider.begun
    assert begun["identifier"] == "https://id.example/alice"
    assert begun["return_to"] == "http://127.0.0.1:5000/login/return/fake"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidIdentifier(), 400),
        (SignInCancelled(), 400),
        (SignInFailed(), 400),
        (AccountDisabled(), 403),
        (IdentityBelongsToAnotherAccount(), 403),
        pytest.param(ProviderUnavailable(), 502, marks=pytest.mark.server_error),
        pytest.param(StoreUnavailable(), 503, marks=pytest.mark.server_error),
        pytest.param(TooManyConflicts(), 503, marks=pytest.mark.server_error),
    ],
)
@pytest.mark.parametrize("step", ["begin", "complete"])
def test_each_domain_error_is_a_flashed_message_with_its_status(
    client, fake_provider, error, status, step, monkeypatch
):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(fake_provider, step, fail)
    page = start_login(client, identifier="x") if step == "begin" else log_in(client)
    body = page.get_data(as_text=True)
    assert page.status_code == status
    assert error.message.replace("'", "&#39;") in body
    assert "<h1>Sign In</h1>" in body and "Traceback" not in body


def test_a_login_the_provider_refuses_shows_what_was_typed_again(
    client, fake_provider, monkeypatch
):
    def fail(*args, **kwargs):
        raise SignInFailed()

    monkeypatch.setattr(fake_provider, "begin", fail)
    page = start_login(client, "/account", identifier="https://id.example/al&ce", remember_me="y")
    body = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'name="identifier"' in body and 'value="https://id.example/al&amp;ce"' in body
    assert 'name="next" type="hidden" value="/account"' in body
    assert 'value="y" checked' in body


def test_the_login_page_keeps_the_page_asked_for_and_starts_empty(client):
    body = client.get("/login?next=/account%3Fx%3D%22").get_data(as_text=True)
    assert 'name="next" type="hidden" value="/account?x=&#34;"' in body
    assert 'type="text" value=""' in body and "checked" not in body


def test_the_login_page_asked_for_by_get_builds_no_form(client, monkeypatch):
    from entrypoints.web import auth

    class NoForm:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a GET built a LoginForm")

    monkeypatch.setattr(auth, "LoginForm", NoForm)
    assert client.get("/login?next=/account").status_code == 200


def test_an_unknown_provider_is_bad_input(client):
    page = start_login(client, provider="nobody")
    assert page.status_code == 400
    assert "That sign-in provider is not available." in page.get_data(as_text=True)


def test_a_form_without_a_provider_says_what_is_missing(client):
    page = start_login(client, provider="")
    assert page.status_code == 400
    assert "Choose a provider." in page.get_data(as_text=True)


def test_returning_without_a_login_in_flight_is_refused(client):
    page = client.get("/login/return/fake?openid.mode=id_res")
    assert page.status_code == 400
    assert "expired or was already used" in page.get_data(as_text=True)


@pytest.mark.server_error
def test_a_database_that_is_down_gives_503_not_a_stack_trace(tmp_path):
    app = make_app(tmp_path, database_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite'}")
    client = app.test_client()
    page = start_login(client, provider="fake")
    assert page.status_code == 503
    assert "trouble with its database" in page.get_data(as_text=True)
    with client.session_transaction() as session:
        session["_user_id"] = "a-session-token"
    page = client.get("/index")
    body = page.get_data(as_text=True)
    assert page.status_code == 503
    assert "trouble with its database" in body and ">Logout<" not in body


def test_unknown_pages_get_the_sites_404_page(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "There is no page here." in page.get_data(as_text=True)


@pytest.mark.server_error
def test_a_crash_gets_the_sites_500_page_without_details(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    page = app.test_client().get("/boom")
    body = page.get_data(as_text=True)
    assert page.status_code == 500
    assert "Something went wrong on our side" in body
    assert "secret detail" not in body and "Traceback" not in body


def test_a_wrong_method_keeps_its_allow_header(client):
    page = client.get("/logout")
    assert page.status_code == 405
    assert "POST" in page.headers["Allow"]


def test_a_request_body_too_large_is_refused(client):
    page = client.post("/login", data={"identifier": "x" * 100_000})
    assert page.status_code == 413


def test_pages_carry_security_headers(client):
    headers = client.get("/login").headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    directives = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
    assert "base-uri 'none'" in directives, "no <base> can send relative links elsewhere"


def test_a_page_keeps_a_security_header_of_its_own_and_gets_the_others_once(app, client):
    @app.get("/framed")
    def framed():
        return "framed", {"X-Frame-Options": "SAMEORIGIN"}

    headers = client.get("/framed").headers
    assert headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"):
        assert len(headers.getlist(name)) == 1, name


def test_links_follow_the_path_the_site_is_mounted_at(client):
    # Links are built once per mount point: a site behind /blog links under /blog.
    for mount in ("", "/blog", ""):
        site = f"http://localhost{mount}/"
        page = client.get("/login", base_url=site).get_data(as_text=True)
        assert f'href="{mount}/static/microblog.css"' in page
        assert f'href="{mount}/index"' in page


def test_remembered_links_keep_equal_but_different_arguments_apart(app):
    link = app.jinja_env.globals["url_for"]
    with app.test_request_context("/"):
        assert link("auth.login", again=1) == "/login?again=1"
        assert link("auth.login", again=True) == "/login?again=True"
        assert link("auth.login", again=1.0) == "/login?again=1.0"
        assert link("auth.login", _external=True) == "http://localhost/login"
    with app.test_request_context("/", base_url="http://other.example/"):
        assert link("auth.login", _external=True) == "http://other.example/login"
        assert link("auth.login", again=[1]) == "/login?again=1"  # not a key: built each time

    def __call__(self) -> None:
        return None


def test_cookies_are_http_only_and_same_site_lax(client):
    log_in(client, remember=True)
    for name in ("session", "remember_token"):
        cookie = client.get_cookie(name)
        assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_cookies_are_secure_when_the_site_is_served_over_https(tmp_path):
    app = create_app({"instance_path": str(tmp_path), "base_url": "https://microblog.example"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_refuses_to_start_without_a_long_secret_key(tmp_path):
    with pytest.raises(ConfigurationError, match="MICROBLOG_SECRET_KEY"):
        create_app({"instance_path": str(tmp_path), "env": "production"})
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        create_app({"instance_path": str(tmp_path), "env": "production", "secret_key": "short"})


def test_development_keeps_its_generated_secret_key_in_the_instance_folder(tmp_path):
    first = create_app({"instance_path": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"instance_path": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second and len(first) >= 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_offers_no_dev_provider(tmp_path):
    app = create_app(
        {
            "instance_path": str(tmp_path),
            "env": "production",
            "secret_key": "k" * 40,
            "base_url": "https://microblog.example",
        }
    )
    assert [choice.key for choice in app.extensions["container"].round_trips().choices()] == [
        "openid"
    ]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(next_path=st.one_of(st.text(max_size=40), st.sampled_from(["//e.example", "/\\e", "/ok"])))
def test_after_login_the_redirect_never_leaves_the_site(app, next_path):
    client = app.test_client()
    page = log_in(client, next_path=next_path, nickname="alice")
    location = page.headers["Location"]
    parts = urlsplit(location)
    assert page.status_code == 302
    assert not parts.scheme and not parts.netloc and location.startswith("/")
    assert not location.startswith("//") and "\\" not in location
    # Werkzeug writes the path as a URI ("/<" becomes "/%3C"): the same page.
    assert location in ("/index", iri_to_uri(next_path))


def test_providers_can_be_swapped_by_overriding_the_container(app):
    services = app.extensions["container"]
    with services.identity_providers.override(providers.Object({})):
        assert start_login(app.test_client()).status_code == 400
    assert start_login(app.test_client()).status_code == 303


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(st.characters(exclude_categories=["Cs"]), max_size=60))
def test_what_a_visitor_typed_comes_back_escaped_in_the_login_form(app, typed):
    client = app.test_client()
    shown = client.get("/login", query_string={"next": typed}).get_data(as_text=True)
    refused = start_login(client, identifier=typed, provider="").get_data(as_text=True)
    assert f'name="next" type="hidden" value="{escape(typed)}"' in shown
    assert f'type="text" value="{escape(typed)}"' in refused


def test_a_refused_form_keeps_the_remember_me_choice(client):
    page = start_login(client, provider="", remember_me="y").get_data(as_text=True)
    assert 'name="remember_me" type="checkbox" value="y" checked' in page


def test_a_new_secret_key_signs_out_the_sessions_of_the_old_one(app):
    client = app.test_client()
    assert log_in(client).headers["Location"] == "/index"
    assert client.get("/index").status_code == 200
    app.secret_key = "another-secret-key"
    assert client.get("/index").status_code == 302


def test_a_protocol_plugged_into_the_registry_signs_people_in_beside_openid(tmp_path):
    # The fake protocol is known to the registry passed to create_app and to nothing else.
    app = make_app(tmp_path, providers=[{"key": "openid", "name": "OpenID"}, FAKE_ENTRY])
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'value="openid">Sign in with OpenID</button>' in page
    assert 'value="fake">Sign in with Fake</button>' in page
    assert log_in(client, nickname="alice").headers["Location"] == "/index"
    assert "<h1>Hi, alice!</h1>" in client.get("/index").get_data(as_text=True)


def post_back(poster, started, **answer):
    """A provider's answer posted from its own site: no CSRF token, none of our cookies."""
    return poster.post("/login/return/fake", data={"state": state_of(started), **answer})


def test_an_answer_posted_cross_site_is_parked_and_finished_by_a_same_site_get(app, client):
    started = start_login(client, identifier="https://id.example/alice")
    parked = post_back(app.test_client(), started, nickname="alice")
    assert parked.status_code == 303
    location = urlsplit(parked.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/login/return/fake")
    assert "alice" not in parked.headers["Location"], "the answer itself stays server side"
    page = client.get(parked.headers["Location"])
    assert page.status_code == 302 and page.headers["Location"] == "/index"
    assert "<h1>Hi, alice!</h1>" in client.get("/index").get_data(as_text=True)


def test_a_parked_answer_is_used_once(app, client):
    started = start_login(client, identifier="https://id.example/alice")
    parked = post_back(app.test_client(), started)
    client.get(parked.headers["Location"])
    again = app.test_client()
    start_login(again, identifier="https://id.example/alice")
    page = again.get(parked.headers["Location"])
    assert page.status_code == 400
    assert "expired or was already used" in page.get_data(as_text=True)
    assert again.get("/index").status_code == 302


def test_an_answer_for_another_browsers_login_is_refused(app, client):
    victim, attacker = client, app.test_client()
    start_login(victim, identifier="https://id.example/victim")
    attackers_login = start_login(attacker, identifier="https://id.example/attacker")
    parked = post_back(attacker, attackers_login)
    page = victim.get(parked.headers["Location"])  # the attacker lures the victim there
    assert page.status_code == 400
    assert "belongs to another sign-in" in page.get_data(as_text=True)
    assert victim.get("/index").status_code == 302


def test_an_answer_for_an_unknown_provider_is_not_parked(client):
    page = client.post("/login/return/nobody", data={"state": "x"})
    assert page.status_code == 400
    assert "That sign-in provider is not available." in page.get_data(as_text=True)


def test_other_posts_still_need_a_csrf_token(client):
    log_in(client, nickname="alice")
    assert client.post("/logout/everywhere").status_code == 400
    assert client.post("/login", data={"provider": "fake"}).status_code == 400


@pytest.mark.parametrize(
    ("user_agent", "shown"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox 128 on Linux",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/156.0.0.0 Safari/537.36",
            "Headless Chrome 156 on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge 131 on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari 17 on iOS",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        (None, "Unknown browser"),
    ],
)
def test_the_device_list_names_browsers_shortly(user_agent, shown):
    assert browser_of(user_agent) == shown


@given(st.text(max_size=600))
def test_any_user_agent_gets_a_short_name(user_agent):
    assert 0 < len(browser_of(user_agent)) <= 60


def test_over_https_cookies_are_host_prefixed_and_secure_and_hsts_is_sent(tmp_path):
    app = make_app(tmp_path, base_url="https://microblog.example")
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    # A browser on https: Secure cookies come back, and forms carry a same-origin Referer.
    client.environ_base |= {"wsgi.url_scheme": "https", "HTTP_REFERER": "https://localhost/login"}
    page = log_in(client, remember=True, nickname="alice")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookies = {c.split("=", 1)[0]: c for c in page.headers.getlist("Set-Cookie")}
    assert set(cookies) == {"__Host-session", "__Host-remember_token"}
    for cookie in cookies.values():
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
        assert "Domain=" not in cookie


def test_plain_http_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_production_may_serve_plain_http_only_when_told_to(tmp_path):
    production = {"env": "production", "secret_key": "k" * 32, "base_url": "http://10.0.0.5"}
    with pytest.raises(ConfigurationError, match="production serves over https"):
        make_app(tmp_path, **production)
    assert make_app(tmp_path, **production, allow_http=True).config["MICROBLOG_HTTPS"] is False


@pytest.mark.parametrize("path", ["/login", "/login/return/fake?state=x", "/account", "/index"])
def test_sign_in_return_and_account_pages_are_never_cached(client, path):
    log_in(client, nickname="alice") if path in ("/account", "/index") else None
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_behind_trusted_proxies_the_client_address_is_the_forwarded_one(tmp_path):
    app = make_app(tmp_path, trusted_proxies=1, rate_limit_login="1/minute")
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    for address in ("203.0.113.1", "203.0.113.2"):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        assert start_login(client).status_code == 303, "each address has its own limit"
    assert start_login(client).status_code == 429


def test_without_trusted_proxies_a_forwarded_address_is_ignored(tmp_path):
    app = make_app(tmp_path, rate_limit_login="1/minute")
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.1"
    assert start_login(client).status_code == 303
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.2"
    assert start_login(client).status_code == 429, "a client cannot pick its address"


@pytest.mark.parametrize("field", ["subject", "namespace"])
def test_a_3000_character_subject_or_namespace_is_a_400(tmp_path, field):
    entry = FAKE_ENTRY | ({"namespace": "https://" + "n" * 3000} if field == "namespace" else {})
    app = make_app(tmp_path, providers=[entry])
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    started = start_login(client, identifier="https://id.example/a")
    answer = {"state": state_of(started)}
    answer |= {"subject": "https://id.example/" + "s" * 3000} if field == "subject" else {}
    page = client.get("/login/return/fake", query_string=answer)
    assert page.status_code == 400
    assert "too long" in page.get_data(as_text=True)


def test_workers_starting_together_all_get_the_same_whole_development_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from entrypoints.app import _instance_secret

    path = tmp_path / "instance" / "secret_key"
    with ThreadPoolExecutor(16) as pool:
        keys = set(pool.map(lambda _: _instance_secret(path), range(64)))
    [key] = keys
    assert len(key) == 64 and not list(path.parent.glob(".secret_key.*")), "no drafts left"


def test_a_damaged_development_key_is_a_clear_error(tmp_path):
    (tmp_path / "secret_key").write_text("")  # what a crash in the middle once left
    with pytest.raises(ConfigurationError, match="delete it to make a new one"):
        create_app({"instance_path": str(tmp_path)})


def session_cookie_set_by(response) -> str | None:
    cookies = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    return cookies[0] if cookies else None


def test_anonymous_pages_and_redirects_set_no_session_cookie(client):
    for path in ["/index", "/", "/account", "/healthz", "/user/nobody"]:
        page = client.get(path)
        assert session_cookie_set_by(page) is None, path


def test_anonymous_hits_on_a_protected_page_do_not_grow_the_session_cookie(client):
    client.get("/login")  # the login form keeps its CSRF token in the session cookie
    cookie = client.get_cookie("session").value
    for _ in range(20):
        redirect = client.get("/index")
        assert redirect.status_code == 302 and session_cookie_set_by(redirect) is None
    assert client.get_cookie("session").value == cookie
    page = client.get(redirect.headers["Location"])
    assert page.get_data(as_text=True).count("Please log in to access this page.") == 1


@pytest.mark.server_error
def test_an_oidc_issuer_behind_local_nat64_is_unavailable_not_an_error(tmp_path):
    from adapters.sql.migrate import upgrade_database
    from tests.entrypoints.conftest import FAKE_ENTRY, csrf_token, make_app

    issuer = {
        "key": "corp",
        "protocol": "oidc",
        "name": "Corp",
        "issuer": "http://[64:ff9b:1::a00:1]",
        "client_id": "microblog",
        "client_secret": "s3cret",
    }
    app = make_app(tmp_path, providers=[FAKE_ENTRY, issuer], fetch_allowed_networks=["127.0.0.0/8"])
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    started = client.post("/login", data={"provider": "corp", "csrf_token": csrf_token(client)})
    assert started.status_code == 502, "the provider cannot be reached from here"
