"""Logout that reaches panva's oidc-provider (devtools/oidc-provider, with RP-initiated and
back-channel logout enabled) and comes back from it, over real HTTP."""

import pytest

from devtools.dev_oidc import logout_uris
from devtools.servers import free_port
from tests.dev_oidc import dev_oidc_entry, dev_oidc_provider, require_dev_oidc
from tests.e2e.site import Site, served_app


@pytest.fixture
def site(site_config, op):
    """The site with Dev OIDC set to sign out there too, and the provider registering the
    site's logout URLs: it is started once the site's URL is known (the site reaches it
    only when someone signs in)."""
    require_dev_oidc()
    issuer = f"http://127.0.0.1:{free_port()}"
    entry = dev_oidc_entry(issuer, sign_out_at_provider=True)
    with (
        served_app(site_config | {"providers": [entry]}) as (url, app),
        dev_oidc_provider(issuer, logout_uris(url, "dev-oidc")),
    ):
        site = Site(url, app, op)
        site.issuer = issuer  # type: ignore[attr-defined]
        yield site


def asks_who_you_are(page) -> bool:
    return "/interaction/" in page.url and 'name="name"' in page.text


def test_logout_signs_out_at_the_provider_too_and_comes_back_saying_so(site):
    visitor = site.visitor()
    visitor.sign_in_with_oidc("hana", remember=True)
    remembered = visitor.with_cookies(visitor.cookies_named("remember_token"))
    again = visitor.start_sign_in(provider="dev-oidc")
    assert again.url == f"{site.url}/index", "signed in at the provider: it does not ask"

    at_provider = visitor.log_out()
    assert at_provider.url.startswith(f"{site.issuer}/session/end?")
    assert visitor.greeting() is None and remembered.greeting() is None  # ended here first
    back = visitor.sign_out_at_oidc(at_provider)

    assert back.url.startswith(f"{site.url}/logout/return/dev-oidc?state=")
    assert back.status_code == 200 and "You are signed out." in back.text
    assert asks_who_you_are(visitor.start_sign_in(provider="dev-oidc")), "its session is gone"
    assert "You are signed out." not in visitor.get(back.url.removeprefix(site.url)).text


def test_signing_out_on_the_providers_own_page_ends_that_persons_site_session(site):
    ida, jon = site.visitor(), site.visitor()
    ida.sign_in_with_oidc("ida", remember=True)
    jon.sign_in_with_oidc("jon")
    remembered = ida.with_cookies(ida.cookies_named("remember_token"))

    ida.sign_out_at_oidc(ida.http.get(f"{site.issuer}/session/end", timeout=10))

    assert ida.greeting() is None and remembered.greeting() is None
    assert jon.greeting() == "jon"
    assert "session.ended_by_provider" in site.cli("audit").output


def test_the_providers_notice_after_a_logout_here_finds_that_session_ended_already(site):
    visitor = site.visitor()
    visitor.sign_in_with_oidc("kai")
    back = visitor.sign_out_at_oidc(visitor.log_out())  # its notice names an ended session
    assert "You are signed out." in back.text
    visitor.sign_in_with_oidc("kai")
    assert visitor.greeting() == "kai"
