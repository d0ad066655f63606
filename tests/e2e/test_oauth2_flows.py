"""Signing in through the generic OAuth 2.0 adapter (protocol "oauth2"), against the
tests' Discord-shaped fake (tests/discord_op.py) over real HTTP."""

import html

import pytest

from tests.discord_op import FakeDiscord, discord_entry, wumpus
from tests.e2e.test_audit import kinds
from tests.e2e.test_login_flows import user_lines
from tests.servers import serving


@pytest.fixture(scope="module")
def served_discord():
    fake = FakeDiscord()
    with serving(fake.app):
        yield fake


@pytest.fixture
def discord(served_discord):
    served_discord.reset()
    return served_discord


@pytest.fixture
def discord_settings():
    return {}


@pytest.fixture
def site_config(site_config, discord, discord_settings):
    entry = discord_entry(discord, **discord_settings)
    return site_config | {"providers": [*site_config["providers"], entry]}


def sign_in_with_discord(visitor):
    return visitor.start_sign_in(provider="discord")


def test_a_discord_user_signs_in_by_the_fields_the_entry_names(site, discord):
    visitor = site.visitor()
    page = sign_in_with_discord(visitor)
    assert page.url == f"{site.url}/index" and "<h1>Hi, wumpus!</h1>" in page.text
    [query] = discord.authorize_queries
    assert query["scope"] == "identify email" and query["code_challenge_method"] == "S256"
    again = site.visitor()
    sign_in_with_discord(again)
    assert again.greeting() == "wumpus" and len(user_lines(site)) == 1


class TestNestedFields:
    """/api/oauth2/@me holds the user under "user": dotted paths reach it."""

    @pytest.fixture
    def discord_settings(self, discord):
        return {
            "userinfo_url": f"{discord.base}/api/oauth2/@me",
            "subject_field": "user.id",
            "nickname_field": "user.username",
            "email_field": "user.email",
            "email_verified_field": "user.verified",
            "trusted_for_email": True,
        }

    def test_a_nested_subject_nickname_and_verified_email_are_read(self, site):
        visitor = site.visitor()
        sign_in_with_discord(visitor)
        assert visitor.greeting() == "wumpus"
        assert user_lines(site)[0].split("\t")[1:3] == ["wumpus", "wumpus@example.com"]

    def test_a_renamed_user_keeps_its_account_by_its_nested_id(self, site, discord):
        sign_in_with_discord(site.visitor())
        discord.person = wumpus(username="renamed")
        again = site.visitor()
        sign_in_with_discord(again)
        assert again.greeting() == "wumpus" and len(user_lines(site)) == 1


class TestTrustedForEmail:
    @pytest.fixture
    def discord_settings(self):
        return {"trusted_for_email": True}

    def test_an_unverified_email_of_an_account_gives_a_new_account(self, site, discord):
        site.visitor().sign_in("alice", email="alice@example.com")
        discord.person = wumpus(email="alice@example.com", verified=False)
        visitor = site.visitor()
        sign_in_with_discord(visitor)
        assert visitor.greeting() == "wumpus"
        assert [line.split("\t")[1:3] for line in user_lines(site)] == [
            ["alice", "alice@example.com"],
            ["wumpus", "-"],
        ]

    def test_a_verified_email_of_an_account_joins_it(self, site, discord):
        site.visitor().sign_in("alice", email="alice@example.com")
        discord.person = wumpus(email="alice@example.com")
        visitor = site.visitor()
        sign_in_with_discord(visitor)
        assert visitor.greeting() == "alice" and len(user_lines(site)) == 1


class TestWithoutAVerifiedField:
    @pytest.fixture
    def discord_settings(self):
        return {"email_verified_field": None, "email_required": True}

    def test_no_email_counts_as_verified_but_it_satisfies_email_required(self, site, discord):
        site.visitor().sign_in("alice", email="wumpus@example.com")
        visitor = site.visitor()
        sign_in_with_discord(visitor)
        assert visitor.greeting() == "wumpus" and len(user_lines(site)) == 2


class TestWithoutPkce:
    @pytest.fixture
    def discord_settings(self):
        return {"pkce": False}

    def test_a_provider_without_pkce_is_asked_without_a_challenge(self, site, discord):
        visitor = site.visitor()
        assert sign_in_with_discord(visitor).url == f"{site.url}/index"
        [query] = discord.authorize_queries
        assert "code_challenge" not in query


def test_a_user_document_without_the_subject_field_is_refused(site, discord):
    discord.person = {"username": "wumpus"}
    visitor = site.visitor()
    page = sign_in_with_discord(visitor)
    assert page.status_code == 400
    assert "could not be verified" in html.unescape(page.text)
    assert user_lines(site) == [] and visitor.greeting() is None
    assert kinds(site) == ["sign_in.refused"]


def test_cancelling_at_the_provider_says_so(site, discord):
    discord.deny = True
    visitor = site.visitor()
    page = sign_in_with_discord(visitor)
    assert page.status_code == 400 and "Sign-in was cancelled." in page.text
    assert user_lines(site) == []
