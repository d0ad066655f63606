"""A GitHub `[[providers]]` entry (protocol "github") and its adapter."""

from typing import Literal
from urllib.parse import urlsplit

from adapters.github.relying_party import GitHubIdentityProvider, GitHubProfile
from adapters.oauth2.settings import OAuth2ClientSettings
from adapters.protocols import AdapterParts, ProtocolAdapter, ProviderUrl
from domain.ports import IdentityProvider

GITHUB_COM = "https://github.com"


class GitHubProviderSettings(OAuth2ClientSettings):
    protocol: Literal["github"] = "github"
    # GitHub Enterprise Server: "https://HOST" and "https://HOST/api/v3".
    github_url: ProviderUrl = GITHUB_COM
    api_url: ProviderUrl = "https://api.github.com"
    scopes: str = "read:user user:email"

    @property
    def identity_namespace(self) -> str:
        return self.github_url.rstrip("/")


def github_provider(settings: GitHubProviderSettings, parts: AdapterParts) -> IdentityProvider:
    profile = GitHubProfile(
        settings.policy(),
        display_name=settings.display_name,
        github_url=settings.github_url,
        api_url=settings.api_url,
        client_id=settings.client_id,
        client_secret=settings.secret,
        scopes=settings.scopes,
    )
    return GitHubIdentityProvider(profile, parts.http_client())


def describe_subject(namespace: str, subject: str, handle: str | None) -> str | None:
    """A GitHub identity is its login (as at its last sign-in) on GitHub, or on a GitHub
    Enterprise Server's host. Known only by the provider that added it: its namespace is a
    URL like any issuer's."""
    if handle is None:
        return None
    where = "GitHub" if namespace == GITHUB_COM else f"GitHub at {urlsplit(namespace).netloc}"
    return f"{handle} ({where})"


PROTOCOL = ProtocolAdapter(GitHubProviderSettings, github_provider, describe_subject)
