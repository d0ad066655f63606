"""An OpenID Connect `[[providers]]` entry (protocol "oidc") and its adapter."""

from typing import Literal

from pydantic import field_validator

from adapters.oauth2.settings import OAuth2ClientSettings
from adapters.oidc.relying_party import OidcIdentityProvider, OidcProfile
from adapters.protocols import (
    AdapterParts,
    ProtocolAdapter,
    ProviderUrl,
    subject_at_its_issuer,
)
from domain.ports import IdentityProvider


class OidcProviderSettings(OAuth2ClientSettings):
    protocol: Literal["oidc"] = "oidc"
    issuer: ProviderUrl
    scopes: str = "openid email profile"
    # "form_post" has the provider post its answer back instead of redirecting with it.
    response_mode: Literal["query", "form_post"] | None = None
    # Logout ends the person's sign-in at the provider too (RP-initiated logout).
    sign_out_at_provider: bool = False

    @property
    def identity_namespace(self) -> str:
        return self.issuer

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
        client_secret=settings.secret,
        scopes=settings.scopes,
        response_mode=settings.response_mode,
        sign_out_at_provider=settings.sign_out_at_provider,
    )
    return OidcIdentityProvider(profile, parts.http_client())


def describe_subject(namespace: str, subject: str, handle: str | None) -> str | None:
    """An OpenID Connect identity is its subject at its issuer."""
    return subject_at_its_issuer(namespace, subject) if namespace.startswith("http") else None


PROTOCOL = ProtocolAdapter(OidcProviderSettings, oidc_provider, describe_subject)
