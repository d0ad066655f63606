"""The `[[providers]]` entries of the github and oauth2 protocols: their defaults, their
secrets, the https rule and their one-line refusals."""

import pytest

from adapters.github.relying_party import GitHubIdentityProvider
from adapters.oauth2_generic.relying_party import OAuth2IdentityProvider
from entrypoints.container import Container
from entrypoints.settings import ConfigurationError, load_settings

GITHUB = {"key": "github", "protocol": "github", "client_id": "Iv1.x", "client_secret": "s"}
DISCORD = {
    "key": "discord",
    "protocol": "oauth2",
    "name": "Discord",
    "client_id": "1234",
    "client_secret": "s",
    "authorize_url": "https://discord.com/oauth2/authorize",
    "token_url": "https://discord.com/api/oauth2/token",
    "userinfo_url": "https://discord.com/api/users/@me",
    "scopes": "identify email",
    "nickname_field": "username",
    "email_field": "email",
    "email_verified_field": "verified",
}


def production(*providers, **settings):
    return {
        "env": "production",
        "secret_key": "k" * 32,
        "base_url": "https://microblog.example",
        "providers": list(providers),
        **settings,
    }


def test_a_github_entry_needs_only_its_client_and_defaults_to_github_com():
    [github] = load_settings(production(GITHUB), {})["providers"]
    assert (github.github_url, github.api_url) == ("https://github.com", "https://api.github.com")
    assert github.scopes == "read:user user:email"
    assert (github.trusted_for_email, github.email_required) == (False, False)


def test_a_github_client_secret_may_come_from_the_environment_and_stays_hidden():
    environ = {"MICROBLOG_PROVIDER_GITHUB_CLIENT_SECRET": "from-the-environment"}
    [github] = load_settings(production(GITHUB), environ)["providers"]
    assert github.client_secret.get_secret_value() == "from-the-environment"
    assert "from-the" not in repr(github)


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        (GITHUB | {"github_url": "http://ghe.example"}, "github_url: production reaches"),
        (GITHUB | {"api_url": "http://ghe.example/api/v3"}, "api_url: production reaches"),
        (DISCORD | {"token_url": "http://discord.example/t"}, "token_url: production reaches"),
        (DISCORD | {"userinfo_url": "http://d.example/me"}, "userinfo_url: production reaches"),
    ],
)
def test_production_refuses_their_provider_urls_over_http(entry, named):
    with pytest.raises(ConfigurationError, match=named):
        load_settings(production(entry), {})


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        (GITHUB | {"login_field": "login"}, "(key 'github'): login_field: unknown setting"),
        ({k: v for k, v in GITHUB.items() if k != "client_id"}, "client_id: "),
        (DISCORD | {"subject_field": "user..id"}, "subject_field: "),
        (DISCORD | {"pkce": "yes"}, "pkce: Input should be a valid boolean"),
        (DISCORD | {"token_endpoint_auth": "private_key_jwt"}, "token_endpoint_auth: "),
        (
            {k: v for k, v in DISCORD.items() if k != "email_verified_field"}
            | {"trusted_for_email": True},
            "trusted_for_email = true needs email_field and email_verified_field",
        ),
    ],
)
def test_a_bad_entry_is_refused_in_one_line_naming_the_field(entry, named):
    with pytest.raises(ConfigurationError) as refused:
        load_settings(production(entry), {})
    assert named in str(refused.value) and "\n" not in str(refused.value)


def test_the_namespace_of_an_oauth2_provider_is_its_authorize_urls_origin_unless_set():
    [discord] = load_settings(production(DISCORD), {})["providers"]
    assert discord.identity_namespace == "https://discord.com"
    [named] = load_settings(production(DISCORD | {"namespace": "discord"}), {})["providers"]
    assert named.identity_namespace == "discord"


def test_the_container_builds_github_and_oauth2_providers_without_connecting(tmp_path):
    container = Container()
    container.config.from_dict(
        load_settings(
            {"instance_path": str(tmp_path), "database_url": "sqlite:///:memory:"}
            | {"providers": [GITHUB, DISCORD]},
            {},
        )
    )
    built = container.identity_providers()
    assert isinstance(built["github"], GitHubIdentityProvider)
    assert built["github"].profile.namespace == "https://github.com"
    assert isinstance(built["discord"], OAuth2IdentityProvider)
    assert built["discord"].profile.fields.email_verified == "verified"
    assert built["discord"].name == "Discord"
    container.shutdown_resources()


def test_a_github_identity_shows_its_login_and_github():
    from entrypoints.protocols import PROTOCOLS, describe_subject

    assert describe_subject(PROTOCOLS, "https://github.com", "583231", "octocat", "github") == (
        "octocat (GitHub)"
    )
    assert (
        describe_subject(PROTOCOLS, "https://ghe.example", "7", "mona", "github")
        == "mona (GitHub at ghe.example)"
    )
    # Another protocol's identity at an issuer URL is not taken for GitHub's.
    assert describe_subject(PROTOCOLS, "https://github.com", "583231", None, "oidc") == (
        "583231 at github.com"
    )


GENERIC_GITHUB = DISCORD | {
    "key": "github-rest",
    "authorize_url": "https://github.com/login/oauth/authorize",
    "subject_field": "login",
}


@pytest.mark.parametrize(
    "entries",
    [
        [GITHUB, GENERIC_GITHUB],  # a login that looks like a number would be that id
        [{"key": "openid", "protocol": "openid"}, DISCORD | {"namespace": "openid"}],
        [
            {"key": "corp", "protocol": "oidc", "issuer": "https://discord.com",
             "client_id": "c", "client_secret": "s"},
            DISCORD,
        ],
    ],
)  # fmt: skip
def test_providers_of_two_protocols_may_not_share_a_namespace(entries):
    with pytest.raises(ConfigurationError, match="namespace"):
        load_settings(production(*entries), {})


def test_a_namespace_of_its_own_lets_both_providers_be():
    renamed = GENERIC_GITHUB | {"namespace": "github-rest"}
    assert len(load_settings(production(GITHUB, renamed), {})["providers"]) == 2
