import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.oidc.relying_party import OidcIdentityProvider
from adapters.openid.relying_party import OpenIdIdentityProvider
from devtools.dev import dev_entries, dev_urls
from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.protocols import PROTOCOLS, ProtocolAdapter, ProviderSettings, ProviderUrl
from entrypoints.settings import ConfigurationError, load_settings

MICROBLOG = Path(sys.executable).with_name("microblog")
# What `microblog dev` (make run) adds with its default URLs.
DEV_ENTRIES = dev_entries(*dev_urls({}))
STEAM = (
    "[[providers]]\n"
    'key = "steam"\n'
    'name = "Steam"\n'
    'op_identifier = "https://steamcommunity.com/openid"\n'
    'claimed_id_prefix = "https://steamcommunity.com/openid/id/"\n'
)


def test_defaults_serve_sqlite_in_the_instance_folder_with_the_dev_provider(tmp_path):
    assert [p.key for p in load_settings({"instance_path": str(tmp_path)}, {})["providers"]] == [
        "openid"
    ]
    settings = load_settings({"instance_path": str(tmp_path)}, {}, added_providers=DEV_ENTRIES)
    assert settings["database_url"] == f"sqlite:///{tmp_path}/microblog.sqlite"
    assert [p.key for p in settings["providers"]] == ["openid", "dev", "dev-oidc", "dev-github"]
    assert [p.protocol for p in settings["providers"]] == ["openid", "openid", "oidc", "github"]
    assert settings["fetch_allowed_networks"] == ["127.0.0.0/8"]


def test_environment_variables_override_the_config_file(tmp_path):
    config_file = tmp_path / "microblog.toml"
    config_file.write_text(
        'base_url = "https://file.example/"\n'
        'database_url = "sqlite:///from-file.sqlite"\n'
        f'{STEAM}fallback_nickname = "gamer"\n'
    )
    environ = {
        "MICROBLOG_CONFIG": str(config_file),
        "MICROBLOG_ENV": "production",
        "MICROBLOG_SECRET_KEY": "s" * 32,
        "MICROBLOG_DATABASE_URL": "postgresql+psycopg://db/microblog",
        "MICROBLOG_REMEMBER_DAYS": "7",
        "MICROBLOG_FETCH_ALLOWED_NETWORKS": "10.1.0.0/16, ,192.168.0.0/24,",
    }
    settings = load_settings(environ=environ)
    assert settings["base_url"] == "https://file.example"
    assert settings["database_url"] == "postgresql+psycopg://db/microblog"
    assert settings["remember_days"] == 7.0
    assert [p.key for p in settings["providers"]] == ["steam"]  # no dev provider in production
    assert settings["providers"][0].fallback_nickname == "gamer"
    assert settings["fetch_allowed_networks"] == ["10.1.0.0/16", "192.168.0.0/24"]


def test_the_new_rate_limits_come_from_their_environment_variables(tmp_path):
    environ = {
        "MICROBLOG_RATE_LIMIT_IDENTIFIER_TOTAL": "50/minute",
        "MICROBLOG_RATE_LIMIT_PARKED": "off",
        "MICROBLOG_RATE_LIMIT_IPV6_PREFIX": "56",
    }
    settings = load_settings({"instance_path": str(tmp_path)}, environ=environ)
    assert settings["rate_limit_identifier_total"] == "50/minute"
    assert settings["rate_limit_parked"] == "off"
    assert settings["rate_limit_ipv6_prefix"] == 56
    defaults = load_settings({"instance_path": str(tmp_path)}, environ={})
    assert defaults["rate_limit_identifier_total"] == "100/minute"
    assert defaults["rate_limit_parked"] == "10/minute"
    assert defaults["rate_limit_ipv6_prefix"] == 64


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MICROBLOG_RATE_LIMIT_IPV6_PREFIX", "31"),
        ("MICROBLOG_RATE_LIMIT_IPV6_PREFIX", "129"),
        ("MICROBLOG_RATE_LIMIT_IPV6_PREFIX", "/64"),
        ("MICROBLOG_RATE_LIMIT_IDENTIFIER_TOTAL", "lots"),
        ("MICROBLOG_RATE_LIMIT_PARKED", "ten a minute"),
        ("MICROBLOG_RATE_LIMIT_BACKCHANNEL", "60 a minute"),
    ],
)
def test_a_bad_new_rate_limit_setting_is_refused_in_one_line_naming_it(tmp_path, variable, value):
    with pytest.raises(ConfigurationError) as refused:
        load_settings({"instance_path": str(tmp_path)}, environ={variable: value})
    message = str(refused.value)
    assert f"environment variable {variable}" in message and "\n" not in message


def test_the_back_channel_limit_and_signing_out_at_a_provider_are_read_and_default_off(
    tmp_path,
):
    corp = {"key": "corp", "protocol": "oidc", "issuer": "https://id.example"}
    corp |= {"client_id": "c", "client_secret": "s"}
    environ = {"MICROBLOG_RATE_LIMIT_BACKCHANNEL": "OFF"}
    settings = load_settings({"instance_path": str(tmp_path), "providers": [corp]}, environ=environ)
    assert settings["rate_limit_backchannel"] == "off"
    assert settings["providers"][0].sign_out_at_provider is False
    defaults = load_settings(
        {"instance_path": str(tmp_path), "providers": [corp | {"sign_out_at_provider": True}]},
        environ={},
    )
    assert defaults["rate_limit_backchannel"] == "60/minute"
    assert defaults["providers"][0].sign_out_at_provider is True
    with pytest.raises(ConfigurationError, match="sign_out_at_provider"):
        load_settings(
            {"instance_path": str(tmp_path), "providers": [corp | {"sign_out_at_provider": "yes"}]}
        )


PRODUCTION = {
    "MICROBLOG_ENV": "production",
    "MICROBLOG_SECRET_KEY": "s" * 32,
    "MICROBLOG_BASE_URL": "https://microblog.example",
}
HTTP_PROVIDERS = "MICROBLOG_ALLOW_HTTP_PROVIDERS"

# Each: the config file's text, environment variables, and what the one-line message names.
BAD_CONFIGURATIONS = {
    "a misspelt provider setting": (
        f"{STEAM}trusted_for_emial = true\n",
        {},
        ["[[providers]] #1 (key 'steam')", "trusted_for_emial: unknown setting"],
    ),
    "a provider without a key": (
        '[[providers]]\nname = "Nameless"\n',
        {},
        ["[[providers]] #1", "key: missing"],
    ),
    "two providers with one key": (
        f'[[providers]]\nkey = "steam"\n{STEAM}',
        {},
        ["[[providers]] #2 (key 'steam')", "key: 'steam' is the key of another provider"],
    ),
    "a key that is not URL-safe": (
        '[[providers]]\nkey = "my provider"\n',
        {},
        ["[[providers]] #1 (key 'my provider')", "key: String should match pattern"],
    ),
    "a wrong type": (
        f'{STEAM}stateless = "yes"\n',
        {},
        ["(key 'steam')", "stateless: Input should be a valid boolean"],
    ),
    "an unknown protocol": (
        '[[providers]]\nkey = "corp"\nprotocol = "saml"\n',
        {},
        ["(key 'corp')", "protocol: unknown protocol 'saml' (known: github, oauth2, oidc, openid)"],
    ),
    "trust in an unpinned OpenID provider": (
        '[[providers]]\nkey = "any"\ntrusted_for_email = true\n',
        {},
        ["(key 'any')", "trusted_for_email = true needs op_endpoint or claimed_id_prefix"],
    ),
    "a provider URL that is not one": (
        '[[providers]]\nkey = "steam"\nop_identifier = "steamcommunity.com/openid"\n',
        {},
        ["(key 'steam')", "op_identifier: String should match pattern"],
    ),
    "a claimed_id_prefix without a path": (
        '[[providers]]\nkey = "a"\nop_identifier = "http://a.example/"\n'
        'claimed_id_prefix = "http://a.example"\ntrusted_for_email = true\n',
        {},
        ["(key 'a')", "claimed_id_prefix: has no path"],
    ),
    "a claimed_id_prefix with a user name": (
        '[[providers]]\nkey = "a"\nclaimed_id_prefix = "http://a.example@e.example/id/"\n',
        {},
        ["(key 'a')", "claimed_id_prefix: must not contain a user name"],
    ),
    "a claimed_id_prefix with a query": (
        '[[providers]]\nkey = "a"\nclaimed_id_prefix = "https://a.example/id/?x=1"\n',
        {},
        ["(key 'a')", "claimed_id_prefix: must not contain a query"],
    ),
    "a claimed_id_prefix whose path does not end in a slash": (
        '[[providers]]\nkey = "a"\nclaimed_id_prefix = "https://a.example/id"\n',
        {},
        ["(key 'a')", 'claimed_id_prefix: must end its path with "/"'],
    ),
    "an OpenID Connect provider without its secret": (
        '[[providers]]\nkey = "corp"\nprotocol = "oidc"\nissuer = "https://id.example.com"\n'
        'client_id = "microblog"\n',
        {},
        ["(key 'corp')", "client_secret: missing"],
    ),
    "OpenID Connect scopes without openid": (
        '[[providers]]\nkey = "corp"\nprotocol = "oidc"\nissuer = "https://id.example.com"\n'
        'client_id = "microblog"\nclient_secret = "s"\nscopes = "email profile"\n',
        {},
        ["(key 'corp')", 'scopes: must include "openid"'],
    ),
    "a misspelt top-level setting": (
        'databse_url = "sqlite:///x.sqlite"\n',
        {},
        ["databse_url: unknown setting"],
    ),
    "providers that are not a list": (
        'providers = "openid"\n',
        {},
        ["providers: Input should be a valid list"],
    ),
    "a bad network list": (
        "",
        {"MICROBLOG_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8,localhost"},
        ["environment variable MICROBLOG_FETCH_ALLOWED_NETWORKS", "'localhost' is not a network"],
    ),
    "a duration that is not a number": (
        "",
        {"MICROBLOG_SESSION_HOURS": "twelve"},
        ["environment variable MICROBLOG_SESSION_HOURS", "session_hours: Input should be"],
    ),
    "a base URL that is not http(s)": (
        'base_url = "ftp://microblog.example"\n',
        {},
        ["base_url: String should match pattern"],
    ),
    "an unknown environment": (
        "",
        {"MICROBLOG_ENV": "staging"},
        ["environment variable MICROBLOG_ENV", "env: Input should be 'development' or"],
    ),
    "production over plain http": (
        "",
        {"MICROBLOG_ENV": "production", "MICROBLOG_SECRET_KEY": "s" * 32},
        ["production serves over https", "MICROBLOG_ALLOW_HTTP"],
    ),
    "production without a secret key": (
        "",
        {"MICROBLOG_ENV": "production"},
        ["production needs its own secret key", "MICROBLOG_SECRET_KEY"],
    ),
    "sessions in Redis without a Redis": (
        "",
        {"MICROBLOG_SESSION_STORE": "redis"},
        ["session_store: sessions in Redis need MICROBLOG_REDIS_URL"],
    ),
    "an unknown session store": (
        "",
        {"MICROBLOG_SESSION_STORE": "memcached", "MICROBLOG_REDIS_URL": "redis://r:6379/0"},
        ["environment variable MICROBLOG_SESSION_STORE", "session_store: Input should be 'sql'"],
    ),
    "an OpenID Connect issuer over http in production": (
        '[[providers]]\nkey = "corp"\nprotocol = "oidc"\nissuer = "http://id.example.com"\n'
        'client_id = "microblog"\nclient_secret = "s"\n',
        PRODUCTION,
        ["(key 'corp')", "issuer: production reaches providers over https", HTTP_PROVIDERS],
    ),
    "an OpenID op_endpoint over http in production": (
        f'{STEAM}op_endpoint = "http://steamcommunity.com/openid/login"\n',
        PRODUCTION,
        ["(key 'steam')", "op_endpoint: production reaches providers over https", HTTP_PROVIDERS],
    ),
    "two provider keys that read one secret variable": (
        '[[providers]]\nkey = "corp-sso"\n[[providers]]\nkey = "corp.sso"\n',
        {},
        [
            "[[providers]] #2 (key 'corp.sso')",
            "key: 'corp.sso' reads the variables MICROBLOG_PROVIDER_CORP_SSO_* of 'corp-sso'",
        ],
    ),
    "infinite session hours": (
        "",
        {"MICROBLOG_SESSION_HOURS": "inf"},
        ["environment variable MICROBLOG_SESSION_HOURS", "session_hours: must be", "720"],
    ),
    "remember-me days past any date": (
        "",
        {"MICROBLOG_REMEMBER_DAYS": "1e10"},
        ["environment variable MICROBLOG_REMEMBER_DAYS", "remember_days: must be", "3650"],
    ),
    "a config file that is not TOML": (
        "base_url = \n",
        {},
        ["Cannot read the config file"],
    ),
}


@pytest.fixture(params=sorted(BAD_CONFIGURATIONS))
def bad_configuration(request, tmp_path):
    text, environ, named = BAD_CONFIGURATIONS[request.param]
    config_file = tmp_path / "microblog.toml"
    config_file.write_text(text)
    environ = {"MICROBLOG_CONFIG": str(config_file), **environ}
    return environ, [str(config_file) if text else "", *named]


def test_create_app_refuses_a_bad_configuration_naming_the_field(
    bad_configuration, tmp_path, monkeypatch
):
    environ, named = bad_configuration
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        create_app({"instance_path": str(tmp_path / "instance")})
    message = str(refused.value)
    assert "\n" not in message
    assert all(part in message for part in named), message
    assert not (tmp_path / "instance").exists(), "stopped before touching anything"


def test_the_microblog_command_refuses_a_bad_configuration_in_one_line(bad_configuration, tmp_path):
    environ, named = bad_configuration
    result = subprocess.run(
        [MICROBLOG, "users", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"MICROBLOG_INSTANCE_PATH": str(tmp_path / "instance")} | environ,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("microblog: bad configuration: ")
    assert all(part in line for part in named), line
    assert not (tmp_path / "instance").exists()


def test_an_oidc_client_secret_may_come_from_the_environment_and_stays_hidden(tmp_path):
    entry = {
        "key": "corp-sso",
        "protocol": "oidc",
        "issuer": "https://id.example.com",
        "client_id": "microblog",
        "client_secret": "from-the-file",
    }
    environ = {"MICROBLOG_PROVIDER_CORP_SSO_CLIENT_SECRET": "from-the-environment"}
    [provider] = load_settings(
        {
            "providers": [entry],
            "env": "production",
            "secret_key": "k" * 32,
            "base_url": "https://microblog.example",
        },
        environ,
    )["providers"]
    assert provider.client_secret.get_secret_value() == "from-the-environment"
    assert "from-the" not in repr(provider) and "from-the" not in str(provider)
    assert provider.scopes == "openid email profile"


def test_the_container_builds_one_openid_provider_per_profile_without_connecting(tmp_path):
    container = Container()
    container.config.from_dict(
        load_settings(
            {"instance_path": str(tmp_path), "database_url": "sqlite:///:memory:"},
            {},
            added_providers=DEV_ENTRIES,
        )
    )
    built = container.identity_providers()
    assert set(built) == {"openid", "dev", "dev-oidc", "dev-github"}
    assert isinstance(built["dev"], OpenIdIdentityProvider)
    assert isinstance(built["dev-oidc"], OidcIdentityProvider)
    assert built["dev-oidc"].profile.issuer == "http://127.0.0.1:5002"
    assert built["dev"].profile.op_identifier == "http://127.0.0.1:5001/"
    assert built["dev"].profile.claimed_id_prefix == "http://127.0.0.1:5001/id/"
    assert container.unit_of_work() is not container.unit_of_work()
    assert container.engine() is container.engine()
    container.shutdown_resources()


def test_make_serve_refuses_a_claimed_id_prefix_without_a_path_in_one_line(tmp_path):
    # What `make serve` runs: gunicorn checks the settings once, in its master process.
    config_file = tmp_path / "microblog.toml"
    config_file.write_text(BAD_CONFIGURATIONS["a claimed_id_prefix without a path"][0])
    gunicorn = [
        MICROBLOG.with_name("gunicorn"),
        "--config",
        "python:entrypoints.cli.gunicorn_config",
    ]
    result = subprocess.run(
        [*gunicorn, "--workers", "1", "--bind", "127.0.0.1:0", "entrypoints.app:create_app()"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ
        | {"MICROBLOG_CONFIG": str(config_file), "MICROBLOG_INSTANCE_PATH": str(tmp_path / "i")},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "bad configuration" in line]
    assert line.startswith("microblog: bad configuration: ")
    assert "(key 'a'): claimed_id_prefix: has no path" in line


@pytest.mark.parametrize("name", ["session_hours", "remember_days"])
@given(
    value=st.one_of(st.floats(), st.sampled_from(["inf", "-inf", "nan", "1e10", "0", "-1", "1e-9"]))
)
@settings(max_examples=50, deadline=None)
def test_a_session_lifetime_is_a_bounded_number_or_a_one_line_refusal(name, value):
    bound = {"session_hours": 720, "remember_days": 3650}[name]
    try:
        loaded = load_settings({name: value, "instance_path": "unused"}, environ={})
    except ConfigurationError as refused:
        message = str(refused)
        assert "\n" not in message and f"{name}: " in message
        assert f"at most {bound}" in message or "Input should be a valid number" in message
    else:
        assert loaded[name] <= bound
        unit = {"session_hours": "hours", "remember_days": "days"}[name]
        # No OverflowError, and no session over before it starts.
        assert timedelta(**{unit: loaded[name]}) >= timedelta(seconds=59)


def production(providers, **settings):
    return {
        "env": "production",
        "secret_key": "k" * 32,
        "base_url": "https://microblog.example",
        "providers": providers,
        **settings,
    }


OIDC_ENTRY = {"key": "corp", "protocol": "oidc", "client_id": "m", "client_secret": "s"}


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:5002", "http://localhost:8080", "http://[::1]:9000"]
)
def test_production_reaches_a_provider_on_loopback_over_http(issuer):
    [provider] = load_settings(production([OIDC_ENTRY | {"issuer": issuer}]), {})["providers"]
    assert provider.issuer == issuer


def test_production_reaches_a_provider_on_a_private_network_over_http_when_allowed():
    entry = {"key": "intranet", "op_endpoint": "http://10.1.2.3/openid", "stateless": True}
    environ = {"MICROBLOG_ALLOW_HTTP_PROVIDERS": "true"}
    [provider] = load_settings(production([entry]), environ)["providers"]
    assert provider.op_endpoint == "http://10.1.2.3/openid"
    with pytest.raises(ConfigurationError, match="op_endpoint: production reaches providers"):
        load_settings(production([entry]), {})
    assert load_settings({"providers": [entry], "instance_path": "unused"}, {})["providers"]


def test_the_https_rule_holds_for_the_provider_urls_of_any_protocol():
    """A protocol added later marks its URL fields as provider URLs and gets the rule."""

    class GithubLikeSettings(ProviderSettings):
        protocol: Literal["github"] = "github"
        github_url: ProviderUrl = "https://github.com"
        api_url: ProviderUrl = "https://api.github.com"

    protocols = dict(PROTOCOLS) | {"github": ProtocolAdapter(GithubLikeSettings, lambda s, p: s)}
    entry = {"key": "gh", "protocol": "github", "api_url": "http://ghe.example/api"}
    with pytest.raises(ConfigurationError) as refused:
        load_settings(production([entry]), {}, protocols)
    assert "(key 'gh'): api_url: production reaches providers over https" in str(refused.value)
    assert GithubLikeSettings.model_validate(entry).provider_urls() == {
        "github_url": "https://github.com",
        "api_url": "http://ghe.example/api",
    }


def test_a_configured_provider_keeps_its_key_from_the_entries_a_dev_server_adds(tmp_path):
    mine = {"key": "dev", "name": "Mine", "op_identifier": "https://op.example/"}
    settings = load_settings(
        {"instance_path": str(tmp_path), "providers": [mine]}, {}, added_providers=DEV_ENTRIES
    )
    assert [(p.key, p.name) for p in settings["providers"]] == [
        ("dev", "Mine"),
        ("dev-oidc", "Dev OIDC"),
        ("dev-github", "Dev GitHub"),
    ]


def test_a_dev_provider_url_that_is_no_url_is_refused_naming_its_variable():
    with pytest.raises(ConfigurationError, match=r"^environment variable MICROBLOG_DEV_OIDC_URL: "):
        dev_urls({"MICROBLOG_DEV_OIDC_URL": "localhost:5002"})
    off = {"MICROBLOG_DEV_PROVIDER_URL": "", "MICROBLOG_DEV_OIDC_URL": ""}
    assert dev_urls(off | {"MICROBLOG_DEV_GITHUB_URL": ""}) == ("", "", "")
    with pytest.raises(ConfigurationError, match=r"^environment variable MICROBLOG_DEV_GITHUB_URL"):
        dev_urls({"MICROBLOG_DEV_GITHUB_URL": "127.0.0.1:5003"})


def test_an_identity_shows_itself_as_its_protocols_package_says():
    from entrypoints.protocols import describe_subject

    assert describe_subject(PROTOCOLS, "openid", "http://op.example/id/a") == (
        "http://op.example/id/a"
    )
    assert describe_subject(PROTOCOLS, "https://op.example:8443", "248289") == (
        "248289 at op.example:8443"
    )
