from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from functools import partial

import redis
from dependency_injector import containers, providers
from sqlalchemy import Engine

from adapters.http.client import FetchPolicy, SafeHttpClient
from adapters.metrics import CountingAuditTrail, scrape_registry
from adapters.protocols import protocol_chores
from adapters.redis import stores as redis_stores
from adapters.redis.stores import (
    RedisSessions,
    RedisSingleUse,
    RedisTimelines,
    redis_answers,
    redis_client,
)
from adapters.sql import stores as sql_stores
from adapters.sql.audit import SqlAuditTrail
from adapters.sql.engine import create_database_engine, database_answers
from adapters.sql.stores import (
    SqlSessions,
    SqlSingleUse,
    SqlTimelines,
    SqlUserDirectory,
)
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system import EveryNthCall, SecretsTokenSource, SystemClock
from domain.account import Accounts
from domain.administration import Administration
from domain.audit import Recorder
from domain.housekeeping import Housekeeping
from domain.model import SessionPolicy
from domain.ports import Clock, IdentityProvider, ProviderSignOut, Sessions
from domain.round_trips import RoundTrips
from domain.sessions import SessionService
from domain.sign_in import SignInService
from domain.sign_out import SignOutService
from entrypoints.protocols import (
    PROTOCOLS,
    AdapterParts,
    ProtocolAdapter,
    ProviderSettings,
    build_identity_providers,
    describe_subject,
)
from entrypoints.web.browser import (
    LOGOUT_RETURN_PATH,
    RETURN_PATH,
    request_origin,
)

# Identities linked before migration 0003 recorded no provider: they all came by OpenID 2.0.
UNRECORDED_PROVIDER = "OpenID"
HOUSEKEEPING_BATCH = 500


def database_engine(url: str) -> Iterator[Engine]:
    engine = create_database_engine(url)
    yield engine
    engine.dispose()


def redis_connection(url: str) -> Iterator[redis.Redis]:
    client = redis_client(url)
    yield client
    client.close()


def readiness(
    engine: Engine, redis_url: str | None, shared_client: Callable[[], redis.Redis]
) -> dict[str, Callable[[], bool]]:
    """What must answer for this instance to serve: the database, and Redis if configured
    (through the instance's one Redis client, made when first needed)."""
    checks: dict[str, Callable[[], bool]] = {"database": partial(database_answers, engine)}
    if redis_url:
        checks["redis"] = lambda: redis_answers(shared_client())
    return checks


def live_sessions_counter(sessions: Sessions, clock: Clock) -> Callable[[], int]:
    return lambda: sessions.count_live(clock.now())


def idle_limit(minutes: int | str) -> timedelta | None:
    """MICROBLOG_SESSION_IDLE_MINUTES, checked by the settings: minutes, or "off"."""
    return None if minutes == "off" else timedelta(minutes=int(minutes))


def return_urls(base_url: str) -> Callable[[str], str]:
    """Each provider's return URL, from configuration, never from a request's Host header."""
    return lambda key: f"{base_url}{RETURN_PATH}{key}"


def logout_return_urls(base_url: str) -> Callable[[str], str]:
    return lambda key: f"{base_url}{LOGOUT_RETURN_PATH}{key}"


def identity_describer(
    protocols: Mapping[str, ProtocolAdapter], entries: list[ProviderSettings]
) -> Callable[[str, str, str | None, str], str]:
    protocol_of = {entry.key: entry.protocol for entry in entries}
    return lambda namespace, subject, handle, provider: describe_subject(
        protocols, namespace, subject, handle, protocol_of.get(provider)
    )


def sign_outs_of(providers: Mapping[str, IdentityProvider]) -> dict[str, ProviderSignOut]:
    """The configured providers where signing out reaches (the OpenID Connect ones)."""
    return {key: p for key, p in providers.items() if isinstance(p, ProviderSignOut)}


class Container(containers.DeclarativeContainer):
    """The composition root: every adapter the entrypoints use is built here, lazily."""

    config = providers.Configuration()
    # Which adapter each `protocol` of a [[providers]] entry builds (entrypoints.protocols).
    protocols = providers.Object(PROTOCOLS)

    engine = providers.Resource(database_engine, config.database_url)
    # MICROBLOG_SESSION_STORE picks where sessions, sign-ins and parked answers live, and
    # whether pages keep what they read of an account (in Redis).
    redis = providers.Resource(redis_connection, config.redis_url)
    # Reading posts is one statement on the pool's connection: no BEGIN and ROLLBACK around it.
    sql_timelines = providers.Singleton(SqlTimelines, engine)
    redis_sessions = providers.Singleton(
        RedisSessions, redis, providers.Singleton(SqlUserDirectory, engine).provided.get
    )
    timelines = providers.Selector(
        config.session_store,
        sql=sql_timelines,
        redis=providers.Singleton(RedisTimelines, redis_sessions, sql_timelines.provided.recent_by),
    )
    sessions = providers.Selector(
        config.session_store,
        sql=providers.Singleton(SqlSessions, engine),
        redis=redis_sessions,
    )
    # Sessions in Redis keep their account, and timelines its posts: a committed change to an
    # account drops both there.
    accounts_changed = providers.Selector(
        config.session_store,
        sql=providers.Object(None),
        redis=sessions.provided.accounts_changed,
    )
    unit_of_work = providers.Factory(
        SqlAlchemyUnitOfWork, engine, accounts_changed=accounts_changed
    )
    writing_unit_of_work = providers.Factory(
        SqlAlchemyUnitOfWork, engine, writing=True, accounts_changed=accounts_changed
    )
    sign_ins = providers.Selector(
        config.session_store,
        sql=providers.Singleton(SqlSingleUse, engine, sql_stores.SIGN_INS),
        redis=providers.Singleton(RedisSingleUse, redis, redis_stores.SIGN_INS),
    )
    parked_answers = providers.Selector(
        config.session_store,
        sql=providers.Singleton(SqlSingleUse, engine, sql_stores.PARKED_ANSWERS),
        redis=providers.Singleton(RedisSingleUse, redis, redis_stores.PARKED_ANSWERS),
    )
    # Shared by every instance, as the sessions they end are.
    seen_logout_notices = providers.Selector(
        config.session_store,
        sql=providers.Singleton(SqlSingleUse, engine, sql_stores.SEEN_LOGOUT_NOTICES),
        redis=providers.Singleton(RedisSingleUse, redis, redis_stores.SEEN_LOGOUT_NOTICES),
    )
    # In the database whatever MICROBLOG_SESSION_STORE says, as they always were.
    waiting_identities = providers.Singleton(SqlSingleUse, engine, sql_stores.WAITING_IDENTITIES)
    audit_trail = providers.Singleton(
        CountingAuditTrail, providers.Singleton(SqlAuditTrail, engine)
    )
    # Where the action being done comes from (the request's browser and address, if any).
    origin = providers.Object(request_origin)

    fetch_policy = providers.Singleton(
        FetchPolicy.allowing,
        config.fetch_allowed_networks,
        deadline=config.fetch_deadline_seconds.as_float(),
    )
    http_client = providers.Singleton(SafeHttpClient, fetch_policy)
    adapter_parts = providers.Singleton(
        AdapterParts,
        base_url=config.base_url,
        http_client=http_client.provider,
        engine=engine.provider,
    )
    identity_providers = providers.Singleton(
        build_identity_providers,
        entries=config.providers,
        protocols=protocols,
        parts=adapter_parts,
    )
    # How an identity shows itself on the account page: as the protocol package of the
    # provider that added it says.
    describe_subject = providers.Singleton(identity_describer, protocols, config.providers)

    readiness_checks = providers.Singleton(readiness, engine, config.redis_url, redis.provider)

    clock = providers.Singleton(SystemClock)
    metrics_registry = providers.Singleton(
        scrape_registry, providers.Singleton(live_sessions_counter, sessions, clock)
    )
    tokens = providers.Singleton(SecretsTokenSource)
    session_policy = providers.Singleton(
        SessionPolicy,
        plain_lifetime=providers.Factory(timedelta, hours=config.session_hours.as_float()),
        remembered_lifetime=providers.Factory(timedelta, days=config.remember_days.as_float()),
        idle_limit=providers.Callable(idle_limit, config.session_idle_minutes),
    )

    # Services are built per use (a few microseconds), so an overridden port is always seen.
    housekeeping = providers.Singleton(
        Housekeeping,
        chores=providers.Callable(
            list.__add__,
            providers.List(
                sessions.provided.remove_expired,
                sign_ins.provided.remove_expired,
                parked_answers.provided.remove_expired,
                waiting_identities.provided.remove_expired,
                seen_logout_notices.provided.remove_expired,
            ),
            providers.Callable(protocol_chores, protocols, adapter_parts),
        ),
        clock=clock,
        batch=HOUSEKEEPING_BATCH,
    )
    # Its schedule: every MICROBLOG_HOUSEKEEPING_EVERY-th login start of this process sweeps.
    housekeeping_schedule = providers.Singleton(
        EveryNthCall, housekeeping.provided.sweep, every=config.housekeeping_every.as_int()
    )

    recorder = providers.Factory(Recorder, audit_trail, origin, clock)
    round_trips = providers.Factory(
        RoundTrips,
        providers=identity_providers,
        return_url=providers.Singleton(return_urls, config.base_url),
        sign_ins=sign_ins,
        parked=parked_answers,
        sessions=sessions,
        clock=clock,
        tokens=tokens,
        housekeeping=housekeeping_schedule,
    )
    sign_in_service = providers.Factory(
        SignInService,
        round_trips=round_trips,
        waiting=waiting_identities,
        unit_of_work=writing_unit_of_work.provider,
        sessions=sessions,
        recorder=recorder,
        clock=clock,
        tokens=tokens,
        policy=session_policy,
    )
    accounts = providers.Factory(
        Accounts,
        providers=identity_providers,
        unit_of_work=unit_of_work.provider,
        writing_unit_of_work=writing_unit_of_work.provider,
        sessions=sessions,
        recorder=recorder,
        clock=clock,
        unrecorded_provider=UNRECORDED_PROVIDER,
    )
    administration = providers.Factory(
        Administration,
        unit_of_work=unit_of_work.provider,
        writing_unit_of_work=writing_unit_of_work.provider,
        sessions=sessions,
        sign_ins=sign_ins,
        parked=parked_answers,
        waiting=waiting_identities,
        audit=audit_trail,
        recorder=recorder,
        clock=clock,
    )
    session_service = providers.Factory(
        SessionService, sessions=sessions, recorder=recorder, clock=clock, policy=session_policy
    )
    sign_out_service = providers.Factory(
        SignOutService,
        sign_outs=providers.Singleton(sign_outs_of, identity_providers),
        return_url=providers.Singleton(logout_return_urls, config.base_url),
        sessions=sessions,
        seen_notices=seen_logout_notices,
        recorder=recorder,
        clock=clock,
        tokens=tokens,
    )
