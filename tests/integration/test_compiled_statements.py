"""The compiled runner (`CompiledStatements`) gives what SQLAlchemy Core gives: for every
statement the stores run, the same rows and counts, on SQLite and on PostgreSQL, without Core
executing any of them; and any value of the columns' types comes back as Core gives it."""

import functools
import inspect
import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, bindparam, event, select, text

from adapters.openid import store as openid_store
from adapters.openid.store import SqlOpenIdStore
from adapters.sql import audit, stores
from adapters.sql.audit import SqlAuditTrail
from adapters.sql.statements import CompiledStatements, CoreStatements
from adapters.sql.tables import login_sessions, row_of
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.model import (
    AuditEvent,
    NewUser,
    ParkedAnswer,
    SeenLogoutNotice,
    Session,
    SignIn,
    WaitingIdentity,
)
from tests.integration.conftest import empty_engine

WHEN = datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# The store method that sent it, the statement, its parameters, its rows (or, refused, the
# error's type), the rows changed (-1: refused).
Call = tuple[str, str, dict[str, Any], list[dict[str, Any]], int]
STORES = (stores.SqlSessions, stores.SqlUserDirectory, stores.SqlTimelines, stores.SqlSingleUse)
# Modules whose single statements the compiled runner sends, and those of their methods that
# send any besides the stores': the audit trail's rows, the OpenID store's nonces.
RUNNER_MODULES = (stores, audit, openid_store)
OTHER_METHODS = {
    "SqlAuditTrail.record": (SqlAuditTrail, "record"),
    "SqlOpenIdStore.useNonce": (SqlOpenIdStore, "useNonce"),
}


def store_methods() -> dict[str, tuple[type, str]]:
    """Every public method of the SQL stores, and the others that send single statements,
    by `Class.method`."""
    return {
        f"{kind.__name__}.{name}": (kind, name)
        for kind in STORES
        for name, _ in inspect.getmembers(kind, inspect.isfunction)
        if not name.startswith("_")
    } | OTHER_METHODS


def recording(
    runner: type[CoreStatements], calls: list[Call], running: list[str]
) -> type[CoreStatements]:
    class Recording(runner):  # type: ignore[valid-type, misc]
        def _run(self, statement: Any, parameters: Any) -> tuple[list[dict[str, Any]], int]:
            method = running[0] if running else "no store method"
            try:
                rows, changed = super()._run(statement, parameters)
            except Exception as error:  # a refusal (a replayed nonce) is compared too
                calls.append((method, str(statement), dict(parameters), [type(error)], -1))
                raise
            calls.append((method, str(statement), dict(parameters), rows, changed))
            return rows, changed

    return Recording


def tracked(method: Callable[..., Any], name: str, running: list[str]) -> Callable[..., Any]:
    """`method`, named in `running` while it runs (the first of those running is the one
    called from outside the stores)."""

    @functools.wraps(method)
    def running_method(*args: Any, **kwargs: Any) -> Any:
        running.append(name)
        try:
            return method(*args, **kwargs)
        finally:
            running.pop()

    return running_method


@pytest.fixture
def empty_databases(database_url, tmp_path) -> Iterator[Callable[[], Engine]]:
    """Empty databases of one kind, one after the other: SQLite files, or the one PostgreSQL
    database emptied again (its sequences too, so that accounts get the same ids)."""
    numbers, engines = itertools.count(), []

    def empty_database() -> Engine:
        url = database_url
        if url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'{next(numbers)}.sqlite'}"
        engines.append(empty_engine(url))
        return engines[-1]

    yield empty_database
    for engine in engines:
        engine.dispose()


@pytest.fixture
def core_executions() -> Iterator[list[str]]:
    """The statements SQLAlchemy Core executes, on any engine, while the test runs."""
    executed: list[str] = []

    def executing(connection, cursor, statement, *args):
        executed.append(statement)

    event.listen(Engine, "before_cursor_execute", executing)
    yield executed
    event.remove(Engine, "before_cursor_execute", executing)


def a_session(number: int, user_id: int, expires_at: datetime, **where: str) -> Session:
    return Session(
        f"{number:064d}", user_id, number % 2 == 0, WHEN, WHEN, expires_at, "Firefox ☃", None,
        **where,
    )  # fmt: skip


def with_accounts(engine: Engine) -> tuple[int, int]:
    with SqlAlchemyUnitOfWork(engine, writing=True) as uow:
        ann = uow.users.add(NewUser("ann", "ann@example.com", WHEN))
        bob = uow.users.add(NewUser("Zoë", None, WHEN))
        uow.posts.add(ann.id, "first", WHEN)
        uow.posts.add(ann.id, "zweiter Beitrag ☃", WHEN + MINUTE)
        uow.commit()
    return ann.id, bob.id


def sessions_calls(engine: Engine, ann: int, bob: int) -> None:
    sessions = stores.SqlSessions(engine)
    where = {"provider": "dev", "namespace": "openid", "subject": "https://id.example/ann"}
    hour_on = WHEN + 60 * MINUTE
    sessions.add(a_session(1, ann, hour_on, provider_session_id="ps-1", **where))
    sessions.add(a_session(2, ann, WHEN - MINUTE, **where))
    sessions.add(a_session(3, ann, hour_on, **where))
    sessions.add(a_session(4, bob, hour_on))
    sessions.add(a_session(5, bob, hour_on))
    sessions.add(a_session(6, ann, hour_on))
    sessions.add(a_session(7, bob, WHEN + MINUTE))
    sessions.get(f"{1:064d}")
    sessions.get("missing")
    sessions.get_with_user(f"{1:064d}")
    sessions.get_with_user("missing")
    sessions.touch(f"{1:064d}", WHEN + MINUTE, WHEN + 90 * MINUTE)
    sessions.touch(f"{2:064d}", WHEN + MINUTE, WHEN + 90 * MINUTE)  # ended: stays ended
    sessions.of_user(ann)
    sessions.count_live(WHEN)
    sessions.remove_expired(WHEN, limit=5)
    sessions.remove_expired(WHEN + 2 * MINUTE)
    sessions.remove_by_provider_session("dev", "ps-1")
    sessions.remove_by_subject("dev", "https://id.example/ann")
    sessions.remove_all_of_except(bob, f"{4:064d}")
    sessions.remove(f"{4:064d}")
    sessions.remove_all_of(ann)


def reading_calls(engine: Engine, ann: int) -> None:
    stores.SqlUserDirectory(engine).get(ann)
    stores.SqlUserDirectory(engine).get(ann + 100)
    stores.SqlTimelines(engine).recent_by(ann, 1)
    stores.SqlTimelines(engine).recent_by(ann, 10)


def single_use_calls(engine: Engine, ann: int) -> None:
    state = {"claimed_id": "https://id.example/ann", "note": "Zoë ☃"}
    items: list[tuple[stores.TableCodec[Any], Callable[[str, datetime], Any]]] = [
        (stores.SIGN_INS, lambda k, t: SignIn(k, "dev", None, True, WHEN, t, state, ann)),
        (stores.PARKED_ANSWERS, lambda k, t: ParkedAnswer(k, "dev", state, t)),
        (stores.WAITING_IDENTITIES, lambda k, t: WaitingIdentity(k, ann, "dev", "o", "s", t)),
        (stores.SEEN_LOGOUT_NOTICES, lambda k, t: SeenLogoutNotice(k, t)),
    ]
    for codec, item in items:
        store = stores.SqlSingleUse(engine, codec)
        for key, expires_at in (("a", WHEN + MINUTE), ("b", WHEN), ("c", WHEN), ("d", WHEN)):
            store.put(item(key, expires_at))
        store.take("a")
        store.take("a")
        store.remove_expired(WHEN, limit=2)
        store.remove_expired(WHEN)


def audit_and_nonce_calls(engine: Engine, ann: int) -> None:
    trail = SqlAuditTrail(engine)
    trail.record(AuditEvent("sign_in.succeeded", WHEN, ann, "dev", None, "192.0.2.1", "Zoë ☃"))
    trail.record(AuditEvent("sign_in.refused", WHEN, None, None, "SignInFailed", None, None))
    nonces = SqlOpenIdStore(engine, now=lambda: WHEN.timestamp())
    assert nonces.useNonce("https://op.example/", int(WHEN.timestamp()), "salt")
    assert not nonces.useNonce("https://op.example/", int(WHEN.timestamp()), "salt"), "a replay"


def every_store_call(engine: Engine) -> None:
    ann, bob = with_accounts(engine)
    sessions_calls(engine, ann, bob)
    reading_calls(engine, ann)
    single_use_calls(engine, ann)
    audit_and_nonce_calls(engine, ann)


def calls_through(runner: type[CoreStatements], engine: Engine) -> list[Call]:
    calls: list[Call] = []
    running: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for module in RUNNER_MODULES:
            patch.setattr(module, "CompiledStatements", recording(runner, calls, running))
        for named, (kind, name) in store_methods().items():
            patch.setattr(kind, name, tracked(getattr(kind, name), named, running))
        every_store_call(engine)
    return calls


def test_every_store_statement_gives_the_rows_core_gives(empty_databases, core_executions):
    through_core = calls_through(CoreStatements, empty_databases())
    executed_by_core = len(core_executions)
    compiled = calls_through(CompiledStatements, empty_databases())
    assert compiled == through_core
    # Compared on something: every store method sent statements, and each statement sent
    # found or changed a row at least once.
    assert {method for method, *_ in compiled} == set(store_methods())
    sent = {statement for _, statement, *_ in compiled}
    assert sent == {statement for _, statement, _, _, changed in compiled if changed > 0}
    # Core ran only the units of work that made the accounts, as it did before.
    assert len(core_executions) - executed_by_core == executed_by_core - len(through_core)


# -- values: any value of the columns' types comes back as Core gives it ------------------------

_SESSION = select(login_sessions).where(login_sessions.c.token_hash == bindparam("token_hash"))
_ADD_SESSION = login_sessions.insert()
_STORED = text("SELECT * FROM login_sessions WHERE token_hash = :token_hash")  # untyped: raw
_keys = (f"{n:064d}" for n in itertools.count(1000))

# Any text UTF-8 can carry, but NUL, which PostgreSQL refuses.
characters = st.characters(codec="utf-8", exclude_characters="\x00")
texts = st.text(characters, max_size=64)
offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
moments = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(9000, 1, 1),
    timezones=st.one_of(st.just(UTC), offsets.map(timezone)),
)
sessions_of_one_user = st.builds(
    Session,
    token_hash=st.builds(lambda: next(_keys)),
    user_id=st.just(1),
    remember=st.booleans(),
    created_at=moments,
    last_seen_at=moments,
    expires_at=moments,
    user_agent=st.none() | texts,
    client_address=st.none() | texts,
    provider=st.none() | texts,
    namespace=st.none() | texts,
    subject=st.none() | texts,
    provider_session_id=st.none() | texts,
    logout_hint=st.none() | st.text(characters),
)


@pytest.fixture
def a_user_of_id_1(engine) -> Engine:
    with SqlAlchemyUnitOfWork(engine, writing=True) as uow:
        assert uow.users.add(NewUser("ann", None, WHEN)).id == 1
        uow.commit()
    return engine


def stored(engine: Engine, token_hash: str) -> tuple[Any, ...]:
    """The row as the database holds it, past every type processor."""
    with engine.connect() as connection:
        row = connection.execute(_STORED, {"token_hash": token_hash}).one()
        return tuple(row[1:])


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session=sessions_of_one_user)
def test_values_go_in_and_come_out_of_the_compiled_runner_as_through_core(a_user_of_id_1, session):
    core, compiled = CoreStatements(a_user_of_id_1), CompiledStatements(a_user_of_id_1)
    twin = replace(session, token_hash=next(_keys))
    core.count(_ADD_SESSION, **row_of(session))
    compiled.count(_ADD_SESSION, **row_of(twin))
    assert stored(a_user_of_id_1, twin.token_hash) == stored(a_user_of_id_1, session.token_hash)
    for written in (session, twin):
        from_core = core.first(_SESSION, token_hash=written.token_hash)
        from_compiled = compiled.first(_SESSION, token_hash=written.token_hash)
        assert from_compiled == from_core == row_of(written)
        assert from_core is not None and from_compiled is not None
        assert [type(value) for value in from_compiled.values()] == [
            type(value) for value in from_core.values()
        ]
        assert from_compiled["created_at"].tzinfo is UTC
