"""Requests the site's server makes to an OpenID Connect provider per sign-in, counted by a
relay in front of it (devtools/relay.py): the code exchange, and userinfo only when the ID
token lacks what the site asked for."""

import pytest

from adapters.http.client import SafeHttpClient
from adapters.oidc.relying_party import OidcIdentityProvider, OidcProfile
from devtools.relay import Relay, relaying
from devtools.servers import free_port
from devtools.serving import served
from tests.integration.test_oidc_hostile_provider import CORP, LOCAL, Site
from tests.oidc_op import CLIENT_ID, CLIENT_SECRET, DROP, HostileProvider


@pytest.fixture(scope="module")
def relayed():
    """The tests' OpenID Connect provider behind a relay, calling itself by its URL."""
    provider, backend = HostileProvider(), f"http://127.0.0.1:{free_port()}"
    relay = Relay(backend, browser_agent="-")
    with relaying(relay) as url, served(provider.app(url), backend):
        yield provider, relay


@pytest.fixture
def op(relayed):
    provider, relay = relayed
    provider.reset()
    relay.reset()
    return provider


def site_asking_for(op, scopes: str) -> Site:
    profile = OidcProfile(CORP, "Corp", op.base, CLIENT_ID, CLIENT_SECRET, scopes=scopes)
    return Site(op, OidcIdentityProvider(profile, SafeHttpClient(LOCAL)))


def counted_sign_in(site: Site, relay: Relay) -> dict[str, int]:
    """The requests of one sign-in, begin and answer, by method and path."""
    relay.reset()
    site.sign_in()
    return dict(relay.requests)


def test_a_sign_in_costs_the_code_exchange_when_the_id_token_has_everything(op, relayed):
    _provider, relay = relayed
    site = site_asking_for(op, "openid email profile")
    first = counted_sign_in(site, relay)
    assert first == {"GET /.well-known/openid-configuration": 1, "GET /jwks": 1, "POST /token": 1}
    assert counted_sign_in(site, relay) == {"POST /token": 1}
    assert relay.connections == 0, "the connection of the first sign-in was not reused"


def test_userinfo_is_asked_when_the_id_token_lacks_what_the_site_asked_for(op, relayed):
    _provider, relay = relayed
    site = site_asking_for(op, "openid email profile")
    site.sign_in()
    op.claims = {"email": DROP, "email_verified": DROP}
    assert counted_sign_in(site, relay) == {"POST /token": 1, "GET /userinfo": 1}


@pytest.mark.parametrize(
    ("scopes", "dropped"),
    [("openid", ("email", "preferred_username")), ("openid email", ("preferred_username",)),
     ("openid profile", ("email", "email_verified"))],
)  # fmt: skip
def test_userinfo_is_not_asked_for_what_the_site_did_not_ask_for(op, relayed, scopes, dropped):
    _provider, relay = relayed
    site = site_asking_for(op, scopes)
    site.sign_in()
    op.claims = dict.fromkeys(dropped, DROP)
    assert counted_sign_in(site, relay) == {"POST /token": 1}
