"""A fixed OpenID provider trusted for email, attacked as the audit of issue 26 did: the
attacker sends the site's request to a provider of their own, E, which answers for a
claimed identifier chosen to pass the site's pin, with the victim's email."""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask

from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served
from tests.e2e.site import CSRF_FIELD, Site, Visitor, served_app
from tests.servers import serving

VICTIM_EMAIL = "victim@example.com"


@contextmanager
def provider_at(base_url: str, app: Flask | None = None) -> Iterator[str]:
    """The dev OpenID provider that calls itself `base_url`, served on its host and port."""
    app = app or create_dev_provider(DevProviderSettings(base_url))
    with served(app, base_url):
        yield base_url


@pytest.fixture(scope="module")
def attacker_op():
    """E: an ordinary OpenID provider, run by the attacker."""
    with serving(lambda base: create_dev_provider(DevProviderSettings(base))) as base:
        yield base


@pytest.fixture(scope="module")
def honest_op(attacker_op):
    """A: the site's fixed provider. Like a host of personal pages, it also serves a page its
    user wrote, which names E as that user's provider (OpenID 2.0 delegation)."""

    def make_app(base: str) -> Flask:
        app = create_dev_provider(DevProviderSettings(base))

        @app.get("/people/mallory")
        def delegating_page() -> str:
            return (
                f'<html><head><link rel="openid2.provider" href="{attacker_op}/endpoint">'
                f'<link rel="openid2.local_id" href="{attacker_op}/id/mallory"></head></html>'
            )

        return app

    with serving(make_app) as base:
        yield base


@pytest.fixture(scope="module")
def userinfo_op(honest_op):
    """E again, calling itself http://<A's host and port>@<E's host and port>: the
    identifiers it hands out start with A's URL."""
    with provider_at(f"http://{urlsplit(honest_op).netloc}@127.0.0.1:{free_port()}") as base:
        yield base


def fixed_provider_site(tmp_path, honest_op, claimed_id_prefix):
    return served_app(
        {
            "instance_path": str(tmp_path / "instance"),
            "database_url": f"sqlite:///{tmp_path / 'site.sqlite'}",
            "secret_key": "e2e-secret-key",
            "providers": [
                {
                    "key": "a",
                    "name": "A",
                    "op_identifier": f"{honest_op}/",
                    "claimed_id_prefix": claimed_id_prefix,
                    "trusted_for_email": True,
                }
            ],
        }
    )


def redirect_to_the_provider(visitor: Visitor) -> str:
    """Press A's button and keep the site's redirect to A instead of following it."""
    token = CSRF_FIELD.search(visitor.get("/login").text).group(1)
    pressed = visitor.post("/login", {"provider": "a", "csrf_token": token}, allow_redirects=False)
    assert pressed.status_code in (302, 303), pressed.text[:300]
    return pressed.headers["Location"]


def answer_at(visitor: Visitor, request_url: str, name: str | None, email: str):
    """Take the request to a dev provider, approve it there as `name` with `email`, and
    follow the answer back to the site."""
    page = visitor.http.get(request_url, timeout=10)
    assert "/approve/" in page.url, page.text[:300]
    form = {"decision": "approve", "email": email, **({"name": name} if name else {})}
    return visitor.http.post(page.url, data=form, timeout=10)


def identities_of_the_victim(site: Site) -> list[str]:
    with site.services.unit_of_work() as uow:
        victim = uow.users.by_email(VICTIM_EMAIL)
        return sorted(identity.subject for identity in uow.identities.of_user(victim.id))


def sign_in_the_victim(site: Site) -> None:
    victim = site.visitor()
    victim.sign_in("victim", email=VICTIM_EMAIL, provider="a")
    assert victim.greeting() == "victim"


def test_a_provider_on_another_host_cannot_answer_for_an_identifier_that_starts_like_the_pin(
    tmp_path, honest_op, userinfo_op
):
    # The audit's site: claimed_id_prefix "http://A", without a path. Settings now refuse
    # such a prefix at start, so the adapter is given it as a site configured before was.
    with fixed_provider_site(tmp_path, honest_op, f"{honest_op}/id/") as (url, app):
        site = Site(url, app, honest_op)
        adapter = site.services.identity_providers()["a"]
        adapter.profile = dataclasses.replace(adapter.profile, claimed_id_prefix=honest_op)
        sign_in_the_victim(site)
        attacker = site.visitor()
        to_a = redirect_to_the_provider(attacker)
        assert to_a.startswith(f"{honest_op}/endpoint?")
        to_e = to_a.replace(honest_op, f"http://{urlsplit(userinfo_op).netloc.split('@')[1]}", 1)
        page = answer_at(attacker, to_e, "mallory", VICTIM_EMAIL)
        assert attacker.greeting() is None, "the attacker's browser is signed in as the victim"
        assert page.status_code == 400
        assert "That provider may not vouch for this identifier." in page.text
        assert identities_of_the_victim(site) == [f"{honest_op}/id/victim"]


def test_a_fixed_provider_accepts_answers_only_from_the_endpoint_found_when_the_login_began(
    tmp_path, honest_op, attacker_op
):
    # The prefix is right, but a page under it names the attacker's provider E: the answer
    # comes from E, not from A's endpoint that the login was sent to.
    with fixed_provider_site(tmp_path, honest_op, f"{honest_op}/") as (url, app):
        site = Site(url, app, honest_op)
        sign_in_the_victim(site)
        attacker = site.visitor()
        to_a = redirect_to_the_provider(attacker)
        query = urlsplit(to_a).query
        fields = dict(parse_qsl(query))
        fields["openid.claimed_id"] = f"{honest_op}/people/mallory"
        fields["openid.identity"] = f"{attacker_op}/id/mallory"
        to_e = f"{attacker_op}/endpoint?{urlencode(fields)}"
        page = answer_at(attacker, to_e, None, VICTIM_EMAIL)
        assert attacker.greeting() is None, "the attacker's browser is signed in as the victim"
        assert page.status_code == 400
        assert "That provider may not vouch for this identifier." in page.text
        assert identities_of_the_victim(site) == [f"{honest_op}/id/victim"]


def test_the_fixed_provider_still_signs_in_its_own_identities(tmp_path, honest_op):
    with fixed_provider_site(tmp_path, honest_op, f"{honest_op}/id/") as (url, app):
        site = Site(url, app, honest_op)
        sign_in_the_victim(site)
        again = site.visitor()
        again.sign_in("victim", provider="a")
        assert again.greeting() == "victim"
