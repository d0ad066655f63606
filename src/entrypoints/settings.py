import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ENV_PREFIX = "MICROBLOG_"
DEVELOPMENT, PRODUCTION = "development", "production"

# Settings read from MICROBLOG_<NAME> (upper case) when set; each is converted by its function.
ENV_SETTINGS: dict[str, Callable[[str], Any]] = {
    "env": str,
    "base_url": str,
    "instance_path": str,
    "database_url": str,
    "secret_key": str,
    "dev_provider_url": str,
    "session_hours": float,
    "remember_days": float,
    "fetch_allowed_networks": lambda text: [part.strip() for part in text.split(",") if part],
}

GENERIC_OPENID = {"key": "openid", "name": "OpenID"}


class ConfigurationError(Exception):
    pass


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults, then the TOML file named by MICROBLOG_CONFIG, then MICROBLOG_* variables,
    then `overrides` (tests and create_app(config)); the later wins."""
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {
        "env": DEVELOPMENT,
        "base_url": "http://127.0.0.1:5000",
        "instance_path": "instance",
        "dev_provider_url": "http://127.0.0.1:5001",
        "providers": [GENERIC_OPENID],
        "session_hours": 12,
        "remember_days": 30,
    }
    config_file = (overrides or {}).get("config_file") or environ.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        settings |= _read_toml(Path(config_file))
    for name, convert in ENV_SETTINGS.items():
        value = environ.get(ENV_PREFIX + name.upper())
        if value is not None:
            settings[name] = convert(value)
    settings |= dict(overrides or {})
    return _completed(settings)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"Cannot read the config file {path}: {error}") from error


def _completed(settings: dict[str, Any]) -> dict[str, Any]:
    if settings["env"] not in (DEVELOPMENT, PRODUCTION):
        raise ConfigurationError(f"MICROBLOG_ENV must be {DEVELOPMENT} or {PRODUCTION}")
    development = settings["env"] == DEVELOPMENT
    base_url = settings["base_url"].rstrip("/")
    instance_path = str(Path(settings["instance_path"]).absolute())
    settings |= {"base_url": base_url, "instance_path": instance_path}
    settings.setdefault("database_url", f"sqlite:///{instance_path}/microblog.sqlite")
    # The dev provider and the OpenID identifiers it hands out live on loopback.
    settings.setdefault("fetch_allowed_networks", ["127.0.0.0/8"] if development else [])
    providers = [dict(profile) for profile in settings["providers"]]
    dev_url = (settings.get("dev_provider_url") or "").rstrip("/")
    if development and dev_url and not any(p["key"] == "dev" for p in providers):
        providers.append(dev_provider_profile(dev_url))
    settings["providers"] = providers
    return settings


def dev_provider_profile(dev_url: str) -> dict[str, Any]:
    return {
        "key": "dev",
        "name": "Dev provider",
        "op_identifier": f"{dev_url}/",
        "claimed_id_prefix": f"{dev_url}/id/",
    }
