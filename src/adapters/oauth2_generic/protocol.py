"""A plain OAuth 2.0 `[[providers]]` entry (protocol "oauth2") and its adapter."""

from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from adapters.oauth2.code_flow import ClientAuthentication
from adapters.oauth2.settings import OAuth2ClientSettings
from adapters.oauth2_generic.relying_party import Fields, OAuth2IdentityProvider, OAuth2Profile
from adapters.protocols import AdapterParts, ProtocolAdapter, ProviderUrl
from domain.ports import IdentityProvider

# A dotted path to a field of the user-info document: "id", "user.id".
FieldPath = Annotated[str, Field(pattern=r"^[^.\s]+(\.[^.\s]+)*$", max_length=200)]


class OAuth2ProviderSettings(OAuth2ClientSettings):
    protocol: Literal["oauth2"] = "oauth2"
    authorize_url: ProviderUrl
    token_url: ProviderUrl
    userinfo_url: ProviderUrl
    scopes: str = ""
    subject_field: FieldPath = "id"
    nickname_field: FieldPath | None = None
    email_field: FieldPath | None = None
    email_verified_field: FieldPath | None = None
    pkce: bool = True
    # The identities' namespace: by default the authorize URL's origin.
    namespace: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    token_endpoint_auth: ClientAuthentication = "client_secret_basic"

    @model_validator(mode="after")
    def _trust_needs_verified_emails(self) -> Self:
        if self.trusted_for_email and not (self.email_field and self.email_verified_field):
            raise ValueError(
                "trusted_for_email = true needs email_field and email_verified_field: "
                "without them no email counts as verified"
            )
        return self

    @property
    def identity_namespace(self) -> str:
        if self.namespace:
            return self.namespace
        parts = urlsplit(self.authorize_url)
        return f"{parts.scheme}://{parts.netloc}"


def oauth2_provider(settings: OAuth2ProviderSettings, parts: AdapterParts) -> IdentityProvider:
    profile = OAuth2Profile(
        settings.policy(),
        display_name=settings.display_name,
        namespace=settings.identity_namespace,
        authorize_url=settings.authorize_url,
        token_url=settings.token_url,
        userinfo_url=settings.userinfo_url,
        client_id=settings.client_id,
        client_secret=settings.secret,
        scopes=settings.scopes,
        fields=Fields(
            settings.subject_field,
            settings.nickname_field,
            settings.email_field,
            settings.email_verified_field,
        ),
        pkce=settings.pkce,
        authentication=settings.token_endpoint_auth,
    )
    return OAuth2IdentityProvider(profile, parts.http_client())


PROTOCOL = ProtocolAdapter(OAuth2ProviderSettings, oauth2_provider)
