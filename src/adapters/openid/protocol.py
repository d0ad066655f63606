"""An OpenID 2.0 `[[providers]]` entry (protocol "openid", the default) and its adapter."""

from collections.abc import Sequence
from typing import Literal, Self

from pydantic import field_validator, model_validator

from adapters.http.caching import ResponseCache
from adapters.openid.fetcher import SafeFetcher
from adapters.openid.identifiers import claimed_id_prefix_problem
from adapters.openid.relying_party import (
    NAMESPACE,
    AssociationRefusals,
    OpenIdIdentityProvider,
    OpenIdProfile,
)
from adapters.openid.store import SqlOpenIdStore
from adapters.protocols import (
    AdapterParts,
    Chore,
    Cleanup,
    ProtocolAdapter,
    ProviderSettings,
    ProviderUrl,
)
from domain.ports import IdentityProvider


class OpenIdProviderSettings(ProviderSettings):
    protocol: Literal["openid"] = "openid"
    op_identifier: ProviderUrl | None = None
    op_endpoint: ProviderUrl | None = None
    claimed_id_prefix: ProviderUrl | None = None
    stateless: bool = False

    @property
    def identity_namespace(self) -> str:
        return NAMESPACE

    @field_validator("claimed_id_prefix")
    @classmethod
    def _prefix_ends_on_a_path_segment(cls, value: str | None) -> str | None:
        problem = value and claimed_id_prefix_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _trust_needs_a_pinned_provider(self) -> Self:
        if self.trusted_for_email and not (self.op_endpoint or self.claimed_id_prefix):
            raise ValueError(
                "trusted_for_email = true needs op_endpoint or claimed_id_prefix: "
                "otherwise any OpenID provider could vouch for any email"
            )
        return self


def openid_provider(settings: OpenIdProviderSettings, parts: AdapterParts) -> IdentityProvider:
    profile = OpenIdProfile(
        settings.policy(),
        display_name=settings.display_name,
        op_identifier=settings.op_identifier,
        op_endpoint=settings.op_endpoint,
        claimed_id_prefix=settings.claimed_id_prefix,
        stateless=settings.stateless,
    )
    return OpenIdIdentityProvider(
        profile,
        store(parts),
        realm=f"{parts.base_url}/",
        fetcher=SafeFetcher(parts.http_client(), parts.shared("openid_answers", _answers)),
        refusals=parts.shared("openid_association_refusals", lambda _: AssociationRefusals()),
    )


def _answers(parts: AdapterParts) -> ResponseCache:
    """Discoveries kept for every OpenID provider of the site, in this process."""
    return ResponseCache()


def store(parts: AdapterParts) -> SqlOpenIdStore:
    """The site's one store of associations and nonces, in its database."""
    return parts.shared("openid_store", lambda parts: SqlOpenIdStore(parts.engine()))


def chores(parts: AdapterParts) -> Sequence[Chore]:
    return [lambda now, limit: store(parts).sweep(limit)]


def cleanup(parts: AdapterParts) -> str:
    kept = store(parts)
    nonces, associations = kept.cleanupNonces(), kept.cleanupAssociations()
    return f"Deleted {nonces} nonces and {associations} associations."


def describe_subject(namespace: str, subject: str, handle: str | None) -> str | None:
    """An OpenID identity shows itself as its URL, the claimed identifier."""
    return subject if namespace == NAMESPACE else None


PROTOCOL = ProtocolAdapter(
    OpenIdProviderSettings,
    openid_provider,
    describe_subject,
    chores=chores,
    cleanup=Cleanup("The OpenID relying party's store.", cleanup),
)
