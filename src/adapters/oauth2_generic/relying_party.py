"""The identity-provider port over any OAuth 2.0 provider with a user-info endpoint: the
shared code flow (adapters.oauth2), then one JSON document about the person, read by the
fields the provider's entry names."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.http.client import SafeHttpClient
from adapters.oauth2.code_flow import ClientAuthentication, OAuth2Client, code_of, is_true
from domain.errors import SignInFailed
from domain.model import ProviderPolicy, ProviderRedirect, VerifiedIdentity


@dataclass(frozen=True)
class Fields:
    """Where the user-info document holds each value: dotted paths ("user.id")."""

    subject: str = "id"
    nickname: str | None = None
    email: str | None = None
    # Without it no email counts as verified.
    email_verified: str | None = None


@dataclass(frozen=True)
class OAuth2Profile:
    policy: ProviderPolicy
    display_name: str
    namespace: str
    authorize_url: str
    token_url: str
    userinfo_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = ""
    fields: Fields = Fields()
    pkce: bool = True
    authentication: ClientAuthentication = "client_secret_basic"


class OAuth2IdentityProvider:
    """Between begin and complete the sign-in keeps `state` (its id), the redirect URI and,
    with PKCE, the verifier."""

    takes_identifier = False

    def __init__(self, profile: OAuth2Profile, http: SafeHttpClient) -> None:
        self.profile = profile
        self.policy = profile.policy
        self.name = profile.display_name
        self._client = OAuth2Client(profile.client_id, profile.client_secret, http)

    def begin(self, *, sign_in_id: str, return_to: str, identifier: str | None) -> ProviderRedirect:
        return self._client.authorization_request(
            self.profile.authorize_url,
            state=sign_in_id,
            return_to=return_to,
            scope=self.profile.scopes,
            pkce=self.profile.pkce,
        )

    def identifier_key(self, identifier: str) -> str | None:
        return None  # nobody types an identifier for these providers

    def complete(self, callback: Mapping[str, str], state: Mapping[str, str]) -> VerifiedIdentity:
        code = code_of(callback, state)
        profile = self.profile
        tokens = self._client.exchange(profile.token_url, code, state, profile.authentication)
        headers = self._client.bearer(tokens["access_token"], Accept="application/json")
        userinfo = self._client.json("GET", profile.userinfo_url, headers=headers)
        return verified_identity(profile, userinfo)


def verified_identity(profile: OAuth2Profile, userinfo: Mapping[str, Any]) -> VerifiedIdentity:
    """Who the user-info document says signed in; SignInFailed without a subject."""
    fields = profile.fields
    subject = field_at(userinfo, fields.subject)
    if isinstance(subject, bool) or not isinstance(subject, str | int) or subject == "":
        raise SignInFailed()
    email = _text_at(userinfo, fields.email)
    verified = fields.email_verified is not None and is_true(
        field_at(userinfo, fields.email_verified)
    )
    return VerifiedIdentity(
        profile.policy,
        profile.namespace,
        str(subject),
        nickname=_text_at(userinfo, fields.nickname),
        email=email,
        email_verified=email is not None and verified,
    )


def field_at(document: Any, path: str) -> Any:
    """The value at a dotted path ("user.id") of nested JSON objects; None where absent."""
    for name in path.split("."):
        if not isinstance(document, Mapping):
            return None
        document = document.get(name)
    return document


def _text_at(document: Mapping[str, Any], path: str | None) -> str | None:
    value = field_at(document, path) if path else None
    return value if isinstance(value, str) and value.strip() else None
