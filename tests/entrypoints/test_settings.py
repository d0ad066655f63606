import pytest

from adapters.openid.relying_party import OpenIdIdentityProvider
from entrypoints.container import Container, openid_profile
from entrypoints.settings import ConfigurationError, load_settings


def test_defaults_serve_sqlite_in_the_instance_folder_with_the_dev_provider(tmp_path):
    settings = load_settings({"instance_path": str(tmp_path)}, environ={})
    assert settings["database_url"] == f"sqlite:///{tmp_path}/microblog.sqlite"
    assert [p["key"] for p in settings["providers"]] == ["openid", "dev"]
    assert settings["fetch_allowed_networks"] == ["127.0.0.0/8"]


def test_environment_variables_override_the_config_file(tmp_path):
    config_file = tmp_path / "microblog.toml"
    config_file.write_text(
        'base_url = "https://file.example/"\n'
        'database_url = "sqlite:///from-file.sqlite"\n'
        "[[providers]]\n"
        'key = "steam"\n'
        'name = "Steam"\n'
        'op_identifier = "https://steamcommunity.com/openid"\n'
        'claimed_id_prefix = "https://steamcommunity.com/openid/id/"\n'
        'fallback_nickname = "gamer"\n'
    )
    environ = {
        "MICROBLOG_CONFIG": str(config_file),
        "MICROBLOG_ENV": "production",
        "MICROBLOG_DATABASE_URL": "postgresql+psycopg://db/microblog",
        "MICROBLOG_REMEMBER_DAYS": "7",
    }
    settings = load_settings(environ=environ)
    assert settings["base_url"] == "https://file.example"
    assert settings["database_url"] == "postgresql+psycopg://db/microblog"
    assert settings["remember_days"] == 7.0
    assert [p["key"] for p in settings["providers"]] == ["steam"]  # no dev provider in production
    assert settings["fetch_allowed_networks"] == []


def test_a_broken_config_file_or_env_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("base_url = ")
    with pytest.raises(ConfigurationError, match="Cannot read the config file"):
        load_settings(environ={"MICROBLOG_CONFIG": str(broken)})
    with pytest.raises(ConfigurationError, match="MICROBLOG_ENV"):
        load_settings(environ={"MICROBLOG_ENV": "staging"})


def test_a_provider_with_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        openid_profile({"key": "x", "trusted_for_emial": True})


def test_the_container_builds_one_openid_provider_per_profile_without_connecting(tmp_path):
    container = Container()
    container.config.from_dict(
        load_settings({"instance_path": str(tmp_path), "database_url": "sqlite:///:memory:"}, {})
    )
    built = container.identity_providers()
    assert set(built) == {"openid", "dev"}
    assert all(isinstance(provider, OpenIdIdentityProvider) for provider in built.values())
    assert built["dev"].profile.op_identifier == "http://127.0.0.1:5001/"
    assert container.unit_of_work() is not container.unit_of_work()
    assert container.engine() is container.engine()
    container.shutdown_resources()
