"""GitHub (OAuth Apps, github.com or GitHub Enterprise Server): its settings, its builder
and its adapter (protocol.PROTOCOL)."""

from adapters.github.protocol import PROTOCOL

__all__ = ["PROTOCOL"]
