"""The registry of sign-in protocols: one entry per protocol package of src/adapters, each
owning its settings model, its builder and its adapter. Adding a protocol is its package
and one line here."""

from collections.abc import Mapping

from adapters import github, oauth2_generic, oidc, openid
from adapters.protocols import (
    AdapterParts,
    HttpUrl,
    ProtocolAdapter,
    ProviderSettings,
    ProviderUrl,
    describe_subject,
)
from domain.ports import IdentityProvider

__all__ = [
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "AdapterParts",
    "HttpUrl",
    "ProtocolAdapter",
    "ProviderSettings",
    "ProviderUrl",
    "build_identity_providers",
    "describe_subject",
]

PROTOCOLS: Mapping[str, ProtocolAdapter] = {
    "openid": openid.PROTOCOL,
    "oidc": oidc.PROTOCOL,
    "github": github.PROTOCOL,
    "oauth2": oauth2_generic.PROTOCOL,
}
DEFAULT_PROTOCOL = "openid"


def build_identity_providers(
    entries: list[ProviderSettings],
    protocols: Mapping[str, ProtocolAdapter],
    parts: AdapterParts,
) -> dict[str, IdentityProvider]:
    """One adapter per configured provider, keyed by the provider's key."""
    return {entry.key: protocols[entry.protocol].build(entry, parts) for entry in entries}
