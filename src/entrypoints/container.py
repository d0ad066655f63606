from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dependency_injector import containers, providers
from sqlalchemy import Engine

from adapters.openid.fetcher import FetchPolicy, SafeFetcher
from adapters.openid.relying_party import (
    AssociationRefusals,
    OpenIdIdentityProvider,
    OpenIdProfile,
)
from adapters.sql.engine import create_database_engine
from adapters.sql.openid_store import SqlOpenIdStore
from adapters.sql.stores import SqlLoginSessions, SqlLoginTransactions
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system import SecretsTokenSource, SystemClock
from domain.model import ProviderPolicy, SessionPolicy
from domain.ports import IdentityProvider

PROFILE_KEYS = {"key", "name", "op_identifier", "claimed_id_prefix", "stateless"}
POLICY_KEYS = {"trusted_for_email", "email_required", "fallback_nickname"}


def database_engine(url: str) -> Iterator[Engine]:
    engine = create_database_engine(url)
    yield engine
    engine.dispose()


def openid_profile(settings: Mapping[str, Any]) -> OpenIdProfile:
    """A provider profile from its settings ("key", "name" and the optional rest)."""
    unknown = set(settings) - PROFILE_KEYS - POLICY_KEYS
    if unknown or not settings.get("key"):
        raise ValueError(f"Bad provider settings {dict(settings)!r}: unknown {sorted(unknown)}")
    policy = ProviderPolicy(
        settings["key"], **{k: settings[k] for k in POLICY_KEYS & set(settings)}
    )
    return OpenIdProfile(
        policy,
        display_name=settings.get("name", settings["key"]),
        op_identifier=settings.get("op_identifier"),
        claimed_id_prefix=settings.get("claimed_id_prefix"),
        stateless=settings.get("stateless", False),
    )


def openid_providers(
    profiles: list[Mapping[str, Any]],
    store: SqlOpenIdStore,
    base_url: str,
    fetcher: SafeFetcher,
    refusals: AssociationRefusals,
) -> dict[str, IdentityProvider]:
    built = (openid_profile(settings) for settings in profiles)
    return {
        profile.policy.key: OpenIdIdentityProvider(
            profile, store, realm=f"{base_url}/", fetcher=fetcher, refusals=refusals
        )
        for profile in built
    }


@dataclass(frozen=True)
class ProviderButton:
    key: str
    name: str
    asks_identifier: bool


def provider_buttons(profiles: list[Mapping[str, Any]]) -> list[ProviderButton]:
    """What the login page offers: the providers that take a typed identifier come first."""
    buttons = [
        ProviderButton(p["key"], p.get("name", p["key"]), not p.get("op_identifier"))
        for p in profiles
    ]
    return sorted(buttons, key=lambda button: not button.asks_identifier)


class Container(containers.DeclarativeContainer):
    """The composition root: every adapter the entrypoints use is built here, lazily."""

    config = providers.Configuration()

    engine = providers.Resource(database_engine, config.database_url)
    unit_of_work = providers.Factory(SqlAlchemyUnitOfWork, engine)
    writing_unit_of_work = providers.Factory(SqlAlchemyUnitOfWork, engine, writing=True)
    login_sessions = providers.Singleton(SqlLoginSessions, engine)
    login_transactions = providers.Singleton(SqlLoginTransactions, engine)
    openid_store = providers.Singleton(SqlOpenIdStore, engine)

    fetch_policy = providers.Singleton(FetchPolicy.allowing, config.fetch_allowed_networks)
    fetcher = providers.Singleton(SafeFetcher, fetch_policy)
    association_refusals = providers.Singleton(AssociationRefusals)
    identity_providers = providers.Singleton(
        openid_providers,
        profiles=config.providers,
        store=openid_store,
        base_url=config.base_url,
        fetcher=fetcher,
        refusals=association_refusals,
    )
    provider_buttons = providers.Singleton(provider_buttons, config.providers)

    clock = providers.Singleton(SystemClock)
    tokens = providers.Singleton(SecretsTokenSource)
    session_policy = providers.Singleton(
        SessionPolicy,
        plain_lifetime=providers.Factory(timedelta, hours=config.session_hours.as_float()),
        remembered_lifetime=providers.Factory(timedelta, days=config.remember_days.as_float()),
    )
