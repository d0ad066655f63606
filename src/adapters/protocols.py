"""What every protocol package shares: the settings every `[[providers]]` entry has, the
parts adapters are built from, and the shape of a protocol's entry in the registry
(entrypoints.protocols). A protocol package (adapters/openid, adapters/oidc) owns its
settings model, its builder and its adapter, and names no other protocol."""

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo
from sqlalchemy import Engine

from adapters.http.client import SafeHttpClient
from domain.model import ProviderPolicy
from domain.ports import IdentityProvider

# The key is a path segment of the provider's return URL and a column in the database.
URL_SAFE_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.~-]{0,63}$"
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^/?#\s]+[^\s]*$", max_length=2048)]


class _ProviderUrlMark:
    """Marks a settings field as a URL the site reaches a provider at (see provider_urls)."""


PROVIDER_URL = _ProviderUrlMark()
# A provider's URL: production refuses it over plain http, unless on loopback or allowed.
ProviderUrl = Annotated[HttpUrl, PROVIDER_URL]


class ProviderSettings(BaseModel):
    """What every `[[providers]]` entry has, whatever its protocol."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # Settings that may come from MICROBLOG_PROVIDER_<KEY>_<NAME> instead of the file.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    protocol: str
    key: Annotated[str, Field(pattern=URL_SAFE_KEY)]
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    trusted_for_email: bool = False
    email_required: bool = False
    fallback_nickname: Annotated[str, Field(min_length=1, max_length=64)] = "user"

    @property
    def display_name(self) -> str:
        return self.name or self.key

    @property
    def identity_namespace(self) -> str | None:
        """The namespace of the identities this entry's provider vouches for, when the
        settings say it (two protocols may not share one: settings.py refuses it)."""
        return None

    def provider_urls(self) -> dict[str, str]:
        """The entry's provider URLs that are set, by field name: its fields typed ProviderUrl."""
        return {
            name: value
            for name, field in type(self).model_fields.items()
            if _is_provider_url(field) and isinstance(value := getattr(self, name), str)
        }

    def policy(self) -> ProviderPolicy:
        return ProviderPolicy(
            self.key,
            trusted_for_email=self.trusted_for_email,
            email_required=self.email_required,
            fallback_nickname=self.fallback_nickname,
        )


def _is_provider_url(field: FieldInfo) -> bool:
    """Whether the field is typed ProviderUrl, alone or in a union (`ProviderUrl | None`)."""
    members = [member for member in get_args(field.annotation) if get_origin(member) is Annotated]
    return PROVIDER_URL in field.metadata or any(PROVIDER_URL in get_args(m) for m in members)


T = TypeVar("T")
# Sweeps at most `limit` of what expired before `now`; how many went (Housekeeping's chores).
Chore = Callable[[datetime, int], int]


@dataclass(frozen=True)
class AdapterParts:
    """What provider adapters are built from, each made when first asked for."""

    base_url: str
    http_client: Callable[[], SafeHttpClient]
    engine: Callable[[], Engine]
    _shared: dict[str, object] = field(default_factory=dict, repr=False)
    _making: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def shared(self, name: str, make: Callable[["AdapterParts"], T]) -> T:
        """The one part `name` that all adapters of a protocol share on this site (one store,
        one memory of refusals...), made by `make` when first asked for."""
        with self._making:
            if name not in self._shared:
                self._shared[name] = make(self)
            return self._shared[name]  # type: ignore[return-value]


def subject_at_its_issuer(namespace: str, subject: str) -> str:
    """An identity named by a subject at an issuer URL: "subject at host"."""
    return f"{subject} at {urlsplit(namespace).netloc or namespace}"


def _not_mine(namespace: str, subject: str, handle: str | None) -> str | None:
    return None


def _no_chores(parts: AdapterParts) -> Sequence[Chore]:
    return ()


@dataclass(frozen=True)
class Cleanup:
    """A protocol's `microblog <protocol> cleanup` command: deletes what it keeps that has
    expired, and says what went."""

    help: str
    run: Callable[[AdapterParts], str]


# How an identity (namespace, subject, handle) shows itself; None: not the protocol's.
DescribeSubject = Callable[[str, str, str | None], str | None]


@dataclass(frozen=True)
class ProtocolAdapter:
    """A protocol's entry in the registry: its settings model, its builder, how an identity
    of it shows itself on the account page (None: not one of its identities), and, if it
    keeps state of its own, the housekeeping chores and the cleanup command for it."""

    settings: type[ProviderSettings]
    build: Callable[[Any, AdapterParts], IdentityProvider]
    describe_subject: DescribeSubject = _not_mine
    chores: Callable[[AdapterParts], Sequence[Chore]] = _no_chores
    cleanup: Cleanup | None = None


def protocol_chores(protocols: Mapping[str, ProtocolAdapter], parts: AdapterParts) -> list[Chore]:
    """The housekeeping chores of every registered protocol."""
    return [chore for protocol in protocols.values() for chore in protocol.chores(parts)]


def describe_subject(
    protocols: Mapping[str, ProtocolAdapter],
    namespace: str,
    subject: str,
    handle: str | None = None,
    protocol: str | None = None,
) -> str:
    """How an identity shows itself: as `protocol` (that of the provider that added it)
    says, else as the first protocol that knows its namespace says, else as a subject at
    its issuer."""
    first = [protocols[protocol]] if protocol is not None and protocol in protocols else []
    for adapter in [*first, *protocols.values()]:
        described = adapter.describe_subject(namespace, subject, handle)
        if described is not None:
            return described
    return subject_at_its_issuer(namespace, subject)
