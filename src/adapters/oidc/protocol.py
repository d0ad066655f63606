"""An OpenID Connect `[[providers]]` entry (protocol "oidc") and its adapter."""

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator

from adapters.oidc.relying_party import OidcIdentityProvider, OidcProfile
from adapters.protocols import (
    AdapterParts,
    ProtocolAdapter,
    ProviderSettings,
    ProviderUrl,
    subject_at_its_issuer,
)
from domain.ports import IdentityProvider


class OidcProviderSettings(ProviderSettings):
    secret_fields = ("client_secret",)

    protocol: Literal["oidc"] = "oidc"
    issuer: ProviderUrl
    client_id: Annotated[str, Field(min_length=1)]
    client_secret: SecretStr
    scopes: str = "openid email profile"
    # "form_post" has the provider post its answer back instead of redirecting with it.
    response_mode: Literal["query", "form_post"] | None = None
    # Logout ends the person's sign-in at the provider too (RP-initiated logout).
    sign_out_at_provider: bool = False

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


def oidc_provider(settings: OidcProviderSettings, parts: AdapterParts) -> IdentityProvider:
    profile = OidcProfile(
        settings.policy(),
        display_name=settings.display_name,
        issuer=settings.issuer,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        scopes=settings.scopes,
        response_mode=settings.response_mode,
        sign_out_at_provider=settings.sign_out_at_provider,
    )
    return OidcIdentityProvider(profile, parts.http_client())


def describe_subject(namespace: str, subject: str) -> str | None:
    """An OpenID Connect identity is its subject at its issuer."""
    return subject_at_its_issuer(namespace, subject) if namespace.startswith("http") else None


PROTOCOL = ProtocolAdapter(OidcProviderSettings, oidc_provider, describe_subject)
