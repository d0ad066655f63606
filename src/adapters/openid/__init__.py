"""OpenID 2.0: its settings, its builder and its adapter (protocol.PROTOCOL)."""

from adapters.openid.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
