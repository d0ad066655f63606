"""OpenID Connect: its settings, its builder and its adapter (protocol.PROTOCOL)."""

from adapters.oidc.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
