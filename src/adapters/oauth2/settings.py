"""What every `[[providers]]` entry of a protocol on OAuth 2.0 has: the client the site is
registered as at the provider."""

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator

from adapters.protocols import ProviderSettings


class OAuth2ClientSettings(ProviderSettings):
    """`client_secret` may come from MICROBLOG_PROVIDER_<KEY>_CLIENT_SECRET instead."""

    secret_fields = ("client_secret",)

    client_id: Annotated[str, Field(min_length=1)]
    client_secret: SecretStr

    @field_validator("client_secret", mode="before")
    @classmethod
    def _secret_from_text(cls, value: Any) -> Any:
        return SecretStr(value) if isinstance(value, str) and value else value

    @property
    def secret(self) -> str:
        return self.client_secret.get_secret_value()
