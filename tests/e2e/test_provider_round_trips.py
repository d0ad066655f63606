"""Requests the site's server makes to a provider per sign-in, counted by a relay in front of
the dev provider (devtools/relay.py): a sign-in waits on each of them. OpenID 2.0 here and
GitHub at the end (OIDC: tests/integration/test_oidc_round_trips.py)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from devtools.dev_github import create_dev_github, dev_github_profile
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.relay import Relay, relaying
from devtools.servers import free_port
from devtools.serving import served
from tests.e2e.site import CSRF_FIELD, Site, Visitor, served_app

# Headers the provider adds to every answer; a test may set them.
caching_headers: dict[str, str] = {}


@contextmanager
def relayed_dev_provider() -> Iterator[tuple[str, Relay]]:
    """The dev OpenID provider behind a relay, calling itself by the relay's URL."""
    backend = f"http://127.0.0.1:{free_port()}"
    relay = Relay(backend)
    with relaying(relay) as url:
        app = create_dev_provider(DevProviderSettings(url))
        app.after_request(lambda response: response.headers.update(caching_headers) or response)
        with served(app, backend):
            yield url, relay


@pytest.fixture(scope="module")
def provider():
    with relayed_dev_provider() as (url, relay):
        yield url, relay


@pytest.fixture(autouse=True)
def _fresh_provider(provider):
    """Each test starts with no requests counted and no caching headers."""
    provider[1].reset()
    caching_headers.clear()
    yield
    caching_headers.clear()


@pytest.fixture
def site(provider, tmp_path):
    op, _relay = provider
    config = {
        "instance_path": str(tmp_path / "instance"),
        "database_url": f"sqlite:///{tmp_path / 'site.sqlite'}",
        "secret_key": "e2e-secret-key",
        "providers": [
            {"key": "openid", "name": "OpenID"},
            {"key": "dev", "op_identifier": f"{op}/", "claimed_id_prefix": f"{op}/id/"},
        ],
    }
    with served_app(config) as (url, app):
        yield Site(url, app, op)


@dataclass(frozen=True)
class Counts:
    """Requests to the provider while the site began the sign-in, and while it took the
    answer."""

    begin: int
    answer: int


def sign_in(site: Site, relay: Relay, name: str, provider: str) -> Counts:
    """One person signs in, by `provider`'s button or by typing their identifier there."""
    visitor = Visitor(site)
    identifier = f"{site.op}/id/{name}" if provider == "openid" else ""
    token = CSRF_FIELD.search(visitor.get("/login").text).group(1)
    form = {"provider": provider, "identifier": identifier, "csrf_token": token}
    before = relay.total
    pressed = visitor.post("/login", form, allow_redirects=False)
    assert pressed.status_code in (302, 303), pressed.text[:300]
    begin = relay.total - before
    approval = visitor.http.get(pressed.headers["Location"], timeout=10)
    form = {"decision": "approve", "name": name}
    answer = visitor.http.post(approval.url, data=form, allow_redirects=False, timeout=10)
    before = relay.total
    returned = visitor.http.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    assert returned.status_code in (302, 303), returned.text[:300]
    counts = Counts(begin, relay.total - before)
    assert visitor.greeting() == name
    return counts


def test_a_fixed_provider_button_asks_the_provider_nothing_on_begin(site, provider):
    _op, relay = provider
    sign_in(site, relay, "warm", "dev")  # discovers the provider, associates
    relay.reset()
    assert sign_in(site, relay, "alice", "dev") == Counts(begin=0, answer=1)
    assert relay.requests == {"GET /id/alice": 1}, "the claimed identifier's discovery"


def test_a_returning_person_at_a_fixed_provider_signs_in_without_a_request(site, provider):
    _op, relay = provider
    sign_in(site, relay, "bob", "dev")
    assert sign_in(site, relay, "bob", "dev") == Counts(begin=0, answer=0)


def test_a_typed_identifier_is_discovered_once_on_begin_and_not_on_return(site, provider):
    _op, relay = provider
    sign_in(site, relay, "warm", "dev")
    assert sign_in(site, relay, "carol", "openid") == Counts(begin=1, answer=0)
    assert sign_in(site, relay, "carol", "openid") == Counts(begin=0, answer=0)


def test_discovery_the_provider_forbids_keeping_is_made_again_at_every_sign_in(site, provider):
    _op, relay = provider
    caching_headers["Cache-Control"] = "no-store"
    sign_in(site, relay, "dave", "dev")
    assert sign_in(site, relay, "dave", "dev") == Counts(begin=1, answer=1)
    assert sign_in(site, relay, "dave", "openid") == Counts(begin=1, answer=0)


def test_a_provider_error_is_not_kept_and_the_next_sign_in_asks_again(site, provider):
    op, relay = provider
    visitor = Visitor(site)
    token = CSRF_FIELD.search(visitor.get("/login").text).group(1)
    form = {"provider": "openid", "identifier": f"{op}/nowhere", "csrf_token": token}
    for _ in range(2):
        refused = visitor.post("/login", form)
        assert "No OpenID provider was found for that identifier." in refused.text
    assert relay.requests == {"GET /nowhere": 2}


def test_sign_ins_reuse_the_connection_to_the_provider(site, provider):
    _op, relay = provider
    caching_headers["Cache-Control"] = "no-store"
    sign_in(site, relay, "erin", "dev")
    relay.reset()
    sign_in(site, relay, "erin", "dev")
    sign_in(site, relay, "frank", "dev")
    assert relay.total == 4, "each sign-in discovered the provider and the identifier"
    assert relay.connections == 0, "a later sign-in opened a new connection"


@pytest.fixture
def github(tmp_path):
    """The site with the dev GitHub behind a relay: its requests to GitHub counted."""
    backend = f"http://127.0.0.1:{free_port()}"
    relay = Relay(backend)
    with relaying(relay) as url, served(create_dev_github(url), backend):
        config = {
            "instance_path": str(tmp_path / "instance"),
            "database_url": f"sqlite:///{tmp_path / 'site.sqlite'}",
            "secret_key": "e2e-secret-key",
            "providers": [dev_github_profile(url)],
        }
        with served_app(config) as (site_url, app):
            yield Site(site_url, app, url), relay


def github_sign_in(site: Site, relay: Relay, login: str) -> Counts:
    """One person signs in at the dev GitHub, typing `login` there."""
    visitor = Visitor(site)
    pressed = visitor.start_sign_in(provider="dev-github", follow=False)
    assert pressed.status_code in (302, 303), pressed.text[:300]
    begin = relay.total
    approval = visitor.http.get(pressed.headers["Location"], timeout=10)
    form = {"decision": "approve", "login": login, "email": ""}
    answer = visitor.http.post(approval.url, data=form, allow_redirects=False, timeout=10)
    before = relay.total
    returned = visitor.http.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    assert returned.status_code in (302, 303), returned.text[:300]
    counts = Counts(begin, relay.total - before)
    assert visitor.greeting() == login
    return counts


GITHUB_ANSWER = {
    "POST /login/oauth/access_token": 1,
    "GET /api/v3/user": 1,
    "GET /api/v3/user/emails": 1,
}


def test_a_github_sign_in_asks_the_code_exchange_the_user_and_the_emails(github):
    site, relay = github
    assert github_sign_in(site, relay, "mona") == Counts(begin=0, answer=3)
    assert relay.requests == GITHUB_ANSWER
    for login in ("mona", "octo"):  # returning, and another person
        relay.reset()
        assert github_sign_in(site, relay, login) == Counts(begin=0, answer=3)
        assert relay.requests == GITHUB_ANSWER
        assert relay.connections == 0, "a later sign-in opened a new connection"
