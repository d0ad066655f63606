"""The identity-provider port over GitHub's OAuth App flow, on the shared OAuth 2.0 code
flow (adapters.oauth2): GitHub speaks OAuth 2.0 without OpenID Connect, so who someone is
comes from its REST API. The identity is the account's numeric id, never its login, which
its owner may rename; only the address GitHub flags both primary and verified counts."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.http.client import SafeHttpClient
from adapters.oauth2.code_flow import OAuth2Client, code_of
from domain.errors import SignInFailed
from domain.model import ProviderPolicy, ProviderRedirect, VerifiedIdentity

# GitHub's REST API asks clients to name the media type and the version they speak.
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
# /user/emails without the user:email scope (403), or on a server without it (404).
NO_EMAILS = frozenset({403, 404})


@dataclass(frozen=True)
class GitHubProfile:
    policy: ProviderPolicy
    display_name: str
    github_url: str  # where people sign in: https://github.com, or https://HOST
    api_url: str  # https://api.github.com, or https://HOST/api/v3
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "read:user user:email"

    @property
    def namespace(self) -> str:
        return self.github_url.rstrip("/")


class GitHubIdentityProvider:
    """Between begin and complete the sign-in keeps `state` (its id), the PKCE verifier and
    the redirect URI."""

    takes_identifier = False

    def __init__(self, profile: GitHubProfile, http: SafeHttpClient) -> None:
        self.profile = profile
        self.policy = profile.policy
        self.name = profile.display_name
        self._client = OAuth2Client(profile.client_id, profile.client_secret, http, "GitHub")

    def begin(self, *, sign_in_id: str, return_to: str, identifier: str | None) -> ProviderRedirect:
        return self._client.authorization_request(
            f"{self.profile.namespace}/login/oauth/authorize",
            state=sign_in_id,
            return_to=return_to,
            scope=self.profile.scopes,
        )

    def identifier_key(self, identifier: str) -> str | None:
        return None  # nobody types an identifier for GitHub

    def complete(self, callback: Mapping[str, str], state: Mapping[str, str]) -> VerifiedIdentity:
        code = code_of(callback, state, label="GitHub")
        tokens = self._client.exchange(
            f"{self.profile.namespace}/login/oauth/access_token",
            code,
            state,
            "client_secret_post",
        )
        headers = self._client.bearer(tokens["access_token"], **API_HEADERS)
        api = self.profile.api_url.rstrip("/")
        user = self._client.json("GET", f"{api}/user", headers=headers)
        subject = account_id(user)
        emails = self._client.resource(
            "GET", f"{api}/user/emails", headers=headers, absent_when=NO_EMAILS
        )
        email = primary_verified_email(emails)
        login = _text(user.get("login"))
        return VerifiedIdentity(
            self.policy,
            self.profile.namespace,
            subject,
            nickname=login or _text(user.get("name")),
            email=email,
            email_verified=email is not None,
            handle=login,
        )


def account_id(user: Mapping[str, Any]) -> str:
    """The account's numeric `id` as text; SignInFailed without one."""
    value = user.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SignInFailed()
    return str(value)


def primary_verified_email(emails: Any) -> str | None:
    """The address `/user/emails` flags both primary and verified (JSON true), if any: an
    unverified or secondary address is never used."""
    if not isinstance(emails, list):
        return None
    for entry in emails:
        if not isinstance(entry, dict):
            continue
        address = entry.get("email")
        if entry.get("primary") is True and entry.get("verified") is True and _text(address):
            return str(address)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
