"""The registry of sign-in protocols: how a `[[providers]]` entry of each `protocol` is
checked and which adapter it builds. Adding a protocol is one adapter and one entry here."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self, get_args, get_origin

from openid.store.interface import OpenIDStore
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo

from adapters.http.client import SafeHttpClient
from adapters.oidc.relying_party import OidcIdentityProvider, OidcProfile
from adapters.openid.fetcher import SafeFetcher
from adapters.openid.identifiers import claimed_id_prefix_problem
from adapters.openid.relying_party import (
    AssociationRefusals,
    OpenIdIdentityProvider,
    OpenIdProfile,
)
from domain.model import ProviderPolicy
from domain.ports import IdentityProvider

# The key is a path segment of the provider's return URL and a column in the database.
URL_SAFE_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,63}$"
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^/?#\s]+[^\s]*$", max_length=2048)]


class _ProviderUrlMark:
    """Marks a settings field as a URL the site reaches a provider at (see provider_urls)."""


PROVIDER_URL = _ProviderUrlMark()
# A provider's URL: production refuses it over plain http, unless on loopback or allowed.
ProviderUrl = Annotated[HttpUrl, PROVIDER_URL]


class ProviderSettings(BaseModel):
    """What every `[[providers]]` entry has, whatever its protocol."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # Settings that may come from MICROBLOG_PROVIDER_<KEY>_<NAME> instead of the file.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    protocol: str
    key: Annotated[str, Field(pattern=URL_SAFE_KEY)]
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    trusted_for_email: bool = False
    email_required: bool = False
    fallback_nickname: Annotated[str, Field(min_length=1, max_length=64)] = "user"

    @property
    def display_name(self) -> str:
        return self.name or self.key

    def provider_urls(self) -> dict[str, str]:
        """The entry's provider URLs that are set, by field name: its fields typed ProviderUrl."""
        return {
            name: value
            for name, field in type(self).model_fields.items()
            if _is_provider_url(field) and isinstance(value := getattr(self, name), str)
        }

    def policy(self) -> ProviderPolicy:
        return ProviderPolicy(
            self.key,
            trusted_for_email=self.trusted_for_email,
            email_required=self.email_required,
            fallback_nickname=self.fallback_nickname,
        )


class OpenIdProviderSettings(ProviderSettings):
    protocol: Literal["openid"] = "openid"
    op_identifier: ProviderUrl | None = None
    op_endpoint: ProviderUrl | None = None
    claimed_id_prefix: ProviderUrl | None = None
    stateless: bool = False

    @field_validator("claimed_id_prefix")
    @classmethod
    def _prefix_ends_on_a_path_segment(cls, value: str | None) -> str | None:
        problem = value and claimed_id_prefix_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _trust_needs_a_pinned_provider(self) -> Self:
        if self.trusted_for_email and not (self.op_endpoint or self.claimed_id_prefix):
            raise ValueError(
                "trusted_for_email = true needs op_endpoint or claimed_id_prefix: "
                "otherwise any OpenID provider could vouch for any email"
            )
        return self


class OidcProviderSettings(ProviderSettings):
    secret_fields = ("client_secret",)

    protocol: Literal["oidc"] = "oidc"
    issuer: ProviderUrl
    client_id: Annotated[str, Field(min_length=1)]
    client_secret: SecretStr
    scopes: str = "openid email profile"
    # "form_post" has the provider post its answer back instead of redirecting with it.
    response_mode: Literal["query", "form_post"] | None = None

    @field_validator("client_secret", mode="before")
    @classmethod
    def _secret_from_text(cls, value: Any) -> Any:
        return SecretStr(value) if isinstance(value, str) and value else value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError('must include "openid"')
        return value


def _is_provider_url(field: FieldInfo) -> bool:
    """Whether the field is typed ProviderUrl, alone or in a union (`ProviderUrl | None`)."""
    members = [member for member in get_args(field.annotation) if get_origin(member) is Annotated]
    return PROVIDER_URL in field.metadata or any(PROVIDER_URL in get_args(m) for m in members)


@dataclass(frozen=True)
class AdapterParts:
    """What provider adapters share, each made when first asked for."""

    base_url: str
    http_client: Callable[[], SafeHttpClient]
    openid_store: Callable[[], OpenIDStore]
    association_refusals: Callable[[], AssociationRefusals]


@dataclass(frozen=True)
class ProtocolAdapter:
    settings: type[ProviderSettings]
    build: Callable[[Any, AdapterParts], IdentityProvider]


def openid_provider(settings: OpenIdProviderSettings, parts: AdapterParts) -> IdentityProvider:
    profile = OpenIdProfile(
        settings.policy(),
        display_name=settings.display_name,
        op_identifier=settings.op_identifier,
        op_endpoint=settings.op_endpoint,
        claimed_id_prefix=settings.claimed_id_prefix,
        stateless=settings.stateless,
    )
    return OpenIdIdentityProvider(
        profile,
        parts.openid_store(),
        realm=f"{parts.base_url}/",
        fetcher=SafeFetcher(parts.http_client()),
        refusals=parts.association_refusals(),
    )


def oidc_provider(settings: OidcProviderSettings, parts: AdapterParts) -> IdentityProvider:
    profile = OidcProfile(
        settings.policy(),
        display_name=settings.display_name,
        issuer=settings.issuer,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        scopes=settings.scopes,
        response_mode=settings.response_mode,
    )
    return OidcIdentityProvider(profile, parts.http_client())


PROTOCOLS: Mapping[str, ProtocolAdapter] = {
    "openid": ProtocolAdapter(OpenIdProviderSettings, openid_provider),
    "oidc": ProtocolAdapter(OidcProviderSettings, oidc_provider),
}
DEFAULT_PROTOCOL = "openid"


def build_identity_providers(
    entries: list[ProviderSettings],
    protocols: Mapping[str, ProtocolAdapter],
    parts: AdapterParts,
) -> dict[str, IdentityProvider]:
    """One adapter per configured provider, keyed by the provider's key."""
    return {entry.key: protocols[entry.protocol].build(entry, parts) for entry in entries}
