"""Plain OAuth 2.0 providers (protocol "oauth2": Discord, Facebook, GitLab without OpenID
Connect...): its settings, its builder and its adapter (protocol.PROTOCOL). The shared
authorization-code client it builds on is adapters.oauth2."""

from adapters.oauth2_generic.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
