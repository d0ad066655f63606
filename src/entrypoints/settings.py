import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from entrypoints.protocols import (
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    HttpUrl,
    ProtocolAdapter,
    ProviderSettings,
)

ENV_PREFIX = "MICROBLOG_"
DEVELOPMENT, PRODUCTION = "development", "production"
# Settings read from MICROBLOG_<NAME> (upper case) when set.
ENV_SETTINGS = (
    "env",
    "base_url",
    "instance_path",
    "database_url",
    "secret_key",
    "session_hours",
    "remember_days",
    "session_idle_minutes",
    "fetch_allowed_networks",
    "fetch_deadline_seconds",
    "redis_url",
    "session_store",
    "rate_limit_login",
    "rate_limit_identifier",
    "rate_limit_callback",
    "rate_limit_account",
    "rate_limit_identifier_total",
    "rate_limit_parked",
    "rate_limit_backchannel",
    "rate_limit_ipv6_prefix",
    "allow_http",
    "allow_http_providers",
    "housekeeping_every",
    "metrics_allowed_networks",
    "trusted_proxies",
    "log_format",
)
GENERIC_OPENID = {"key": "openid", "name": "OpenID"}
MIN_PRODUCTION_SECRET_LENGTH = 32
# Session lifetimes: at most this many of the setting's unit, of so many minutes each.
LIFETIME_BOUNDS = {"session_hours": (24 * 30, "hours", 60), "remember_days": (3650, "days", 1440)}
FRIENDLIER_MESSAGES = {"extra_forbidden": "unknown setting", "missing": "missing"}
# Idle limit of sessions without remember-me: at least twice the 5 minutes at which last-seen
# is written (SessionPolicy.touch_interval), at most a day (longer is what remember-me is for).
DEFAULT_IDLE_MINUTES, MIN_IDLE_MINUTES, MAX_IDLE_MINUTES = 30, 10, 1440


class ConfigurationError(Exception):
    """A setting is wrong; the message is one line naming where it came from and which it is."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env: Literal["development", "production"] = "development"
    base_url: HttpUrl = "http://127.0.0.1:5000"
    instance_path: str = "instance"
    database_url: Annotated[str, Field(min_length=1)] | None = None
    secret_key: Annotated[str, Field(min_length=1)] | None = None
    session_hours: float = 12
    remember_days: float = 30
    # A session without remember-me ends after this many minutes unused, or "off".
    session_idle_minutes: int | Literal["off"] = DEFAULT_IDLE_MINUTES
    fetch_allowed_networks: list[str] | None = None
    # However slowly a provider answers, one request to it (redirects included) ends by then.
    fetch_deadline_seconds: Annotated[float, Field(gt=0, le=60)] = 10
    providers: list[dict[str, Any]] = Field(default_factory=lambda: [dict(GENERIC_OPENID)])
    redis_url: Annotated[str, Field(pattern=r"^rediss?://")] | None = None
    # Where login sessions, logins in flight and parked answers live: the database, or Redis.
    session_store: Literal["sql", "redis"] = "sql"
    # Flask-Limiter's notation ("30/minute", "100 per hour; 10/second"), or "off".
    rate_limit_login: str = "30/minute"
    rate_limit_identifier: str = "10/minute"
    rate_limit_callback: str = "60/minute"
    rate_limit_account: str = "30/minute"
    # Login starts per identifier from all clients together: ten clients' worth of the limit
    # per identifier and client. "off" on rate_limit_identifier switches this off too.
    rate_limit_identifier_total: str = "100/minute"
    # Answers parked per client (see auth.provider_return), each up to 64 KB for 5 minutes.
    rate_limit_parked: str = "10/minute"
    # Logout notices a provider posts (back-channel logout), per provider.
    rate_limit_backchannel: str = "60/minute"
    # IPv6 clients count by their network of this prefix length (one site gets a /64 or more).
    rate_limit_ipv6_prefix: Annotated[int, Field(ge=32, le=128)] = 64
    # Who may read /metrics (Prometheus): comma-separated networks.
    metrics_allowed_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # Every this many login starts, a bounded sweep of expired rows (0: none; use the CLI).
    housekeeping_every: Annotated[int, Field(ge=0)] = 100
    # Production is served over https; an http base URL there needs this, said on purpose.
    allow_http: bool = False
    # Production reaches providers over https; one on a private network over http needs this.
    allow_http_providers: bool = False
    # How many proxies in front of the app set X-Forwarded-For and -Proto (0: none).
    trusted_proxies: Annotated[int, Field(ge=0, le=5)] = 0
    # Log lines: JSON for machines, or text for a person at a terminal; by default text in
    # development and JSON in production.
    log_format: Literal["json", "text"] | None = None
    testing: bool = False
    config_file: str | None = None

    @field_validator("fetch_allowed_networks", "metrics_allowed_networks", mode="before")
    @classmethod
    def _split_a_list_from_the_environment(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("fetch_allowed_networks", "metrics_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        checked = []
        for text in value:
            try:
                checked.append(str(ipaddress.ip_network(text)))
            except ValueError as error:
                raise ValueError(
                    f"{text!r} is not a network such as 10.0.0.0/8 ({error})"
                ) from None
        return checked

    @field_validator("session_hours", "remember_days")
    @classmethod
    def _bounded_lifetime(cls, value: float, info: ValidationInfo) -> float:
        bound, unit, minutes = LIFETIME_BOUNDS[str(info.field_name)]
        if not (math.isfinite(value) and value * minutes >= 1 and value <= bound):
            raise ValueError(f"must be at least a minute and at most {bound} {unit}, not {value}")
        return value

    @field_validator(
        "rate_limit_login",
        "rate_limit_identifier",
        "rate_limit_callback",
        "rate_limit_account",
        "rate_limit_identifier_total",
        "rate_limit_parked",
        "rate_limit_backchannel",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip().lower() == "off":
            return "off"
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f'{value!r} is not a limit such as "30/minute", nor "off"') from None
        return value

    @field_validator("session_idle_minutes", mode="before")
    @classmethod
    def _idle_minutes(cls, value: Any) -> int | str:
        if isinstance(value, str) and value.strip().lower() == "off":
            return "off"
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and re.fullmatch(r"[0-9]{1,6}", text):
            text = int(text)
        if type(text) is not int or not MIN_IDLE_MINUTES <= text <= MAX_IDLE_MINUTES:
            raise ValueError(
                f"{value!r} is not a whole number of minutes from {MIN_IDLE_MINUTES}"
                f' to {MAX_IDLE_MINUTES}, nor "off"'
            )
        return text

    @model_validator(mode="after")
    def _redis_sessions_need_a_redis(self) -> Self:
        if self.session_store == "redis" and not self.redis_url:
            raise ValueError(
                "session_store: sessions in Redis need MICROBLOG_REDIS_URL (redis://host:6379/0)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_a_secret_key(self) -> Self:
        if self.env == PRODUCTION and len(self.secret_key or "") < MIN_PRODUCTION_SECRET_LENGTH:
            raise ValueError(
                f"production needs its own secret key of at least {MIN_PRODUCTION_SECRET_LENGTH}"
                " characters in MICROBLOG_SECRET_KEY (python3 -c 'import secrets;"
                " print(secrets.token_hex(32))' makes one)"
            )
        return self

    @model_validator(mode="after")
    def _production_is_served_over_https(self) -> Self:
        if self.env == PRODUCTION and self.base_url.startswith("http:") and not self.allow_http:
            raise ValueError(
                "production serves over https: make MICROBLOG_BASE_URL https://..., or set"
                " MICROBLOG_ALLOW_HTTP=true if a proxy in front really terminates TLS elsewhere"
            )
        return self


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    protocols: Mapping[str, ProtocolAdapter] = PROTOCOLS,
    added_providers: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Defaults, then the TOML file named by MICROBLOG_CONFIG, then MICROBLOG_* variables,
    then `overrides` (tests and create_app(config)); the later wins. Everything is checked
    here, so a bad setting stops the process at start with a ConfigurationError.
    `added_providers` are `[[providers]]` entries added after the configured ones, unless
    one of those has their key (how a development server offers the providers it starts)."""
    environ = os.environ if environ is None else environ
    layered: dict[str, Any] = {}
    origins: dict[str, str] = {}

    def add(values: Mapping[str, Any], origin: str) -> None:
        layered.update(values)
        origins.update(dict.fromkeys(values, origin))

    config_file = (overrides or {}).get("config_file") or environ.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        add(_read_toml(Path(config_file)), str(config_file))
    for name in ENV_SETTINGS:
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            add({name: environ[variable]}, f"environment variable {variable}")
    add(dict(overrides or {}), "create_app config")
    try:
        settings = Settings.model_validate(layered)
    except ValidationError as error:
        raise ConfigurationError(_describe(error, origins)) from None
    origin = origins.get("providers", "defaults")
    providers = _checked_providers(settings, protocols, origin, environ, added_providers)
    return _completed(settings.model_dump() | {"providers": providers})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"Cannot read the config file {path}: {error}") from error


def _checked_providers(
    settings: Settings,
    protocols: Mapping[str, ProtocolAdapter],
    origin: str,
    environ: Mapping[str, str],
    added: Sequence[Mapping[str, Any]],
) -> list[ProviderSettings]:
    keys = {entry.get("key") for entry in settings.providers}
    entries = [dict(entry) for entry in settings.providers]
    entries += [dict(entry) for entry in added if entry.get("key") not in keys]
    checked: list[ProviderSettings] = []
    for number, entry in enumerate(entries, start=1):
        where = _entry_name(number, entry)
        protocol = entry.setdefault("protocol", DEFAULT_PROTOCOL)
        if not isinstance(protocol, str) or protocol not in protocols:
            known = ", ".join(sorted(protocols))
            raise ConfigurationError(
                f"{origin}: {where}: protocol: unknown protocol {protocol!r} (known: {known})"
            )
        model = protocols[protocol].settings
        entry |= _secrets_from_environment(model, entry.get("key"), environ)
        try:
            provider = model.model_validate(entry)
        except ValidationError as error:
            raise ConfigurationError(f"{origin}: {where}: {_first_error(error)}") from None
        if any(earlier.key == provider.key for earlier in checked):
            raise ConfigurationError(
                f"{origin}: {where}: key: {provider.key!r} is the key of another provider"
            )
        variables = _provider_variables(provider.key)
        for earlier in checked:
            if _provider_variables(earlier.key) == variables:
                raise ConfigurationError(
                    f"{origin}: {where}: key: {provider.key!r} reads the variables"
                    f" {variables}* of {earlier.key!r}: rename one"
                )
        if settings.env == PRODUCTION and not settings.allow_http_providers:
            _check_reached_over_https(provider, f"{origin}: {where}")
        _check_namespace_is_its_protocols(provider, checked, f"{origin}: {where}")
        checked.append(provider)
    return checked


def _check_namespace_is_its_protocols(
    provider: ProviderSettings, checked: list[ProviderSettings], where: str
) -> None:
    """Providers of one protocol may share a namespace (two buttons to one OpenID world);
    of two protocols, never: a subject of one could sign in to the other's accounts."""
    namespace = provider.identity_namespace
    clashing = [
        earlier.key
        for earlier in checked
        if namespace is not None
        and earlier.identity_namespace == namespace
        and earlier.protocol != provider.protocol
    ]
    if clashing:
        raise ConfigurationError(
            f"{where}: its identities' namespace {namespace!r} is that of {clashing[0]!r},"
            " a provider of another protocol: give one of them a `namespace` of its own"
        )


def _check_reached_over_https(provider: ProviderSettings, where: str) -> None:
    """Discovery, keys and tokens travel in the clear over http: only to loopback, or to a
    private network when MICROBLOG_ALLOW_HTTP_PROVIDERS says so."""
    for name, url in provider.provider_urls().items():
        parts = urlsplit(url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            raise ConfigurationError(
                f"{where}: {name}: production reaches providers over https: make it"
                " https://..., or set MICROBLOG_ALLOW_HTTP_PROVIDERS=true for a provider on"
                " a private network"
            )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _provider_variables(key: str) -> str:
    """The start of the MICROBLOG_PROVIDER_<KEY>_<FIELD> variables a provider reads."""
    return f"{ENV_PREFIX}PROVIDER_{re.sub(r'[^A-Za-z0-9]', '_', key).upper()}_"


def _secrets_from_environment(
    model: type[ProviderSettings], key: Any, environ: Mapping[str, str]
) -> dict[str, str]:
    """MICROBLOG_PROVIDER_<KEY>_<FIELD> for the entry's secret fields, so that secrets can
    stay out of the config file."""
    if not isinstance(key, str):
        return {}
    prefix = _provider_variables(key)
    found = {name: environ.get(prefix + name.upper()) for name in model.secret_fields}
    return {name: value for name, value in found.items() if value}


def _entry_name(number: int, entry: Mapping[str, Any]) -> str:
    key = entry.get("key")
    return f"[[providers]] #{number}" + (f" (key {key!r})" if isinstance(key, str) else "")


def _describe(error: ValidationError, origins: Mapping[str, str]) -> str:
    location = error.errors()[0]["loc"]
    origin = origins.get(str(location[0]), "settings") if location else "settings"
    return f"{origin}: {_first_error(error)}"


def _first_error(error: ValidationError) -> str:
    first: ErrorDetails = error.errors()[0]
    message = FRIENDLIER_MESSAGES.get(first["type"], first["msg"].removeprefix("Value error, "))
    if first["loc"]:
        # Union members add their type names to the location: only fields and indices name it.
        field, *rest = first["loc"]
        message = "".join([str(field), *(f"[{i}]" for i in rest if isinstance(i, int))]) + (
            f": {message}"
        )
    # A union reports each member's refusal of one value: count values, not members.
    fields = {str(detail["loc"][0]) if detail["loc"] else "" for detail in error.errors()}
    return message + (f" (and {len(fields) - 1} more)" if len(fields) > 1 else "")


def _completed(settings: dict[str, Any]) -> dict[str, Any]:
    development = settings["env"] == DEVELOPMENT
    base_url = settings["base_url"].rstrip("/")
    instance_path = str(Path(settings["instance_path"]).absolute())
    settings |= {"base_url": base_url, "instance_path": instance_path}
    if settings["database_url"] is None:
        settings["database_url"] = f"sqlite:///{instance_path}/microblog.sqlite"
    if settings["fetch_allowed_networks"] is None:
        # Development providers and the OpenID identifiers they hand out live on loopback.
        settings["fetch_allowed_networks"] = ["127.0.0.0/8"] if development else []
    return settings


def chosen_log_format(settings: Mapping[str, Any]) -> str:
    """MICROBLOG_LOG_FORMAT, else JSON in production and text for a person in development."""
    return str(settings.get("log_format") or ("json" if settings["env"] == PRODUCTION else "text"))


def configured_log_format() -> str:
    try:
        return chosen_log_format(load_settings())
    except ConfigurationError:
        return "json"  # the caller says what is wrong when it loads them
