"""Logins through panva's oidc-provider (devtools/oidc-provider), started by the tests."""

import pytest

from tests.dev_oidc import dev_oidc_entry
from tests.e2e.site import CSRF_FIELD
from tests.e2e.test_login_flows import user_lines
from tests.oidc_op import CLIENT_ID, CLIENT_SECRET, HostileProvider
from tests.servers import serving


@pytest.fixture
def site_config(site_config, oidc):
    return site_config | {"providers": [*site_config["providers"], dev_oidc_entry(oidc)]}


def test_the_login_page_offers_openid_and_oidc(site):
    page = site.visitor().get("/login")
    assert (
        ">Sign in with Dev OpenID</button>" in page.text
        and ">Sign in with Dev OIDC</button>" in page.text
    )


def test_first_oidc_login_provisions_and_the_second_reuses_the_user(site, oidc):
    first = site.visitor()
    page = first.sign_in_with_oidc("alice", "alice@example.com")
    assert page.url == f"{site.url}/index" and "<h1>Hi, alice!</h1>" in page.text
    again = site.visitor()
    again.sign_in_with_oidc("alice")
    assert again.greeting() == "alice"
    [line] = user_lines(site)
    # The dev provider never verifies the address someone types: it is not kept.
    assert line.split("\t")[1:4] == ["alice", "-", "active"]


def test_remember_me_and_next_survive_the_oidc_round_trip(site):
    visitor = site.visitor()
    page = visitor.sign_in_with_oidc("alice", remember=True, path="/index?page=2")
    assert page.url == f"{site.url}/index?page=2"
    assert visitor.with_cookies(visitor.cookies_named("remember_token")).greeting() == "alice"


def test_logout_and_logout_everywhere_end_oidc_sessions(site):
    laptop, phone = site.visitor(), site.visitor()
    laptop.sign_in_with_oidc("alice", remember=True)
    phone.sign_in_with_oidc("alice", remember=True)
    copy = laptop.with_cookies(laptop.cookies_named("session", "remember_token"))
    laptop.log_out()
    assert laptop.greeting() is None and copy.greeting() is None
    assert phone.greeting() == "alice"
    again = site.visitor()
    again.sign_in_with_oidc("alice")
    assert "2 sessions ended" in again.log_out(everywhere=True).text
    assert phone.greeting() is None


def test_cancelling_at_the_oidc_provider_says_so(site):
    visitor = site.visitor()
    page = visitor.approve_at_oidc(visitor.start_sign_in(provider="dev-oidc"), decision="cancel")
    assert page.status_code == 400 and "Sign-in was cancelled." in page.text
    assert user_lines(site) == []


def test_the_same_person_through_openid_and_oidc_gets_two_accounts_for_now(site):
    # Two identities, two namespaces: joining them is the account-linking work.
    site.visitor().sign_in("alice")
    site.visitor().sign_in_with_oidc("alice")
    assert [line.split("\t")[1] for line in user_lines(site)] == ["alice", "alice2"]


class TestFormPost:
    @pytest.fixture
    def site_config(self, site_config, oidc):
        entry = dev_oidc_entry(oidc, response_mode="form_post")
        return site_config | {"providers": [entry]}

    def test_an_answer_by_form_post_signs_the_person_in(self, site):
        visitor = site.visitor()
        answer_page = visitor.sign_in_with_oidc("carol")
        assert 'method="post"' in answer_page.text
        page = visitor.post_back(answer_page)
        assert page.url == f"{site.url}/index" and "<h1>Hi, carol!</h1>" in page.text


class TestOidcOnly:
    @pytest.fixture
    def site_config(self, site_config, oidc):
        return site_config | {"providers": [dev_oidc_entry(oidc)]}

    def test_a_site_with_oidc_alone_works(self, site):
        visitor = site.visitor()
        page = visitor.get("/login")
        assert ">Sign in with Dev OIDC</button>" in page.text and "Dev OpenID" not in page.text
        assert 'name="identifier"' not in page.text, "no provider takes a typed identifier"
        assert visitor.sign_in_with_oidc("dave").url == f"{site.url}/index"


@pytest.fixture
def rotating_op():
    """The tests' own OpenID Connect provider, which can rotate its signing key."""
    provider = HostileProvider()
    with serving(provider.app):
        yield provider


class TestKeyRotation:
    """The OpenID Foundation's RP test rp-key-rotation-op-sign-key, against the served site."""

    @pytest.fixture
    def site_config(self, site_config, rotating_op):
        entry = {
            "key": "corp",
            "protocol": "oidc",
            "name": "Corp",
            "issuer": rotating_op.base,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        return site_config | {"providers": [entry]}

    def sign_in(self, site, provider):
        visitor = site.visitor()
        form = {"provider": "corp", "csrf_token": CSRF_FIELD.search(visitor.get("/login").text)[1]}
        started = visitor.http.post(f"{site.url}/login", data=form, allow_redirects=False)
        return visitor.get(
            "/login/return/corp", params=provider.authorize(started.headers["Location"])
        )

    def test_the_login_right_after_the_provider_rotates_its_key_succeeds(self, site, rotating_op):
        assert self.sign_in(site, rotating_op).url == f"{site.url}/index"
        rotating_op.rotate("k2")
        page = self.sign_in(site, rotating_op)
        assert (page.status_code, page.url) == (200, f"{site.url}/index")
        assert rotating_op.calls.count("/jwks") == 2
