"""The stores' single statements on the pool's DB-API connection (adapters/sql/direct.py), on
SQLite and a real PostgreSQL: values go in and come out as SQLAlchemy's types make them,
errors are SQLAlchemy's (so the domain's), and a connection goes back to the pool as it came.
On SQLite each thread keeps a connection of its own for them."""

import gc
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select, text

from adapters.sql.direct import DirectStatements, thread_connections
from adapters.sql.engine import create_database_engine
from adapters.sql.errors import domain_errors
from adapters.sql.tables import login_sessions, metadata, users
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import Conflict, StoreUnavailable
from domain.model import NewUser
from domain.nicknames import nickname_key

WHEN = datetime(2026, 11, 22, 7, 30, 15, 123456, tzinfo=UTC)
ADD_USER = insert(users)
USER = select(users).where(users.c.id == bindparam("id"))
ADD_SESSION = insert(login_sessions)


@pytest.fixture
def one_connection(database_url):
    """A pool of one connection: whatever a statement leaves on it, the next one meets."""
    engine = create_database_engine(database_url, pool_size=1, max_overflow=0)
    if engine.dialect.name == "sqlite":
        metadata.create_all(engine)
    else:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield engine
    engine.dispose()


def a_user(number: int) -> dict:
    """Ids far from those the database hands out itself (PostgreSQL's sequence starts at 1)."""
    return {
        "id": 1000 + number,
        "nickname": f"Ann{number}",
        "nickname_key": nickname_key(f"Ann{number}"),
        "email": None,
        "active": True,
        "created_at": WHEN,
    }


def test_values_come_back_as_the_column_types_make_them(one_connection):
    direct = DirectStatements(one_connection)
    assert direct.count(ADD_USER, **a_user(1)) == 1
    row = direct.first(USER, id=1001)
    assert row == a_user(1) | {"language": None}
    assert row["created_at"].tzinfo is UTC and row["active"] is True
    assert direct.first(USER, id=1002) is None


def test_a_duplicate_key_is_a_conflict_and_the_connection_still_serves(one_connection):
    direct = DirectStatements(one_connection)
    direct.count(ADD_USER, **a_user(1))
    with pytest.raises(Conflict), domain_errors():
        direct.count(ADD_USER, **a_user(1))
    assert direct.first(USER, id=1001)["nickname"] == "Ann1"


def test_a_unit_of_work_after_direct_statements_still_rolls_back(one_connection):
    """The statement ran in autocommit; the same connection must be transactional again."""
    direct = DirectStatements(one_connection)
    direct.count(ADD_USER, **a_user(1))
    with pytest.raises(Conflict), domain_errors():
        direct.count(ADD_USER, **a_user(1))
    with SqlAlchemyUnitOfWork(one_connection, writing=True) as uow:
        uow.users.add(NewUser("Bob", "bob@example.com", WHEN))
        # no commit
    with SqlAlchemyUnitOfWork(one_connection) as uow:
        assert uow.users.by_nickname("Bob") is None


def test_each_statement_is_committed_by_itself(one_connection, database_url):
    DirectStatements(one_connection).count(ADD_USER, **a_user(1))
    other = create_database_engine(database_url)
    try:
        assert DirectStatements(other).first(USER, id=1001) is not None
    finally:
        other.dispose()


def test_returning_rows_are_read_and_the_change_is_kept(one_connection):
    direct = DirectStatements(one_connection)
    direct.count(ADD_USER, **a_user(1))
    session = {
        "token_hash": "h" * 64,
        "user_id": 1001,
        "remember": False,
        "created_at": WHEN,
        "last_seen_at": WHEN,
        "expires_at": WHEN + timedelta(days=1),
        "user_agent": None,
        "client_address": None,
    }
    direct.count(ADD_SESSION, **session)
    take = (
        login_sessions.delete()
        .where(login_sessions.c.token_hash == bindparam("token_hash"))
        .returning(login_sessions.c.user_id, login_sessions.c.expires_at)
    )
    assert direct.first(take, token_hash="h" * 64) == {
        "user_id": 1001,
        "expires_at": WHEN + timedelta(days=1),
    }
    assert direct.first(take, token_hash="h" * 64) is None


def test_a_database_that_is_gone_is_unavailable(tmp_path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}")
    with pytest.raises(StoreUnavailable), domain_errors():
        DirectStatements(engine).first(USER, id=1)


def test_a_statement_that_needs_sqlalchemys_execution_context_is_refused(one_connection):
    """`active` has a Python-side default, which only SQLAlchemy's execution would fill in."""
    without_active = {k: v for k, v in a_user(1).items() if k != "active"}
    with pytest.raises(ValueError, match="DirectStatements"):
        DirectStatements(one_connection).count(ADD_USER, **without_active)
    assert DirectStatements(one_connection).first(USER, id=1001) is None


@pytest.fixture
def sqlite_pool_of_one(tmp_path):
    engine = create_database_engine(
        f"sqlite:///{tmp_path / 'kept.sqlite'}", pool_size=1, max_overflow=0, pool_timeout=1
    )
    made = []
    event.listen(engine, "connect", lambda connection, _record: made.append(connection))
    metadata.create_all(engine)
    yield engine, made
    engine.dispose()


def test_on_sqlite_a_thread_keeps_one_connection_for_every_store(sqlite_pool_of_one):
    engine, _made = sqlite_pool_of_one
    lent = []
    event.listen(engine, "checkout", lambda *_: lent.append(1))
    users_store, sessions_store = DirectStatements(engine), DirectStatements(engine)
    for number in range(5):
        users_store.count(ADD_USER, **a_user(number))
        assert sessions_store.first(USER, id=1000 + number) is not None
    assert len(lent) == 1, "one connection for ten statements of two stores"
    assert engine.pool.checkedout() == 0, "kept outside the pool"
    with SqlAlchemyUnitOfWork(engine) as uow:  # the pool's one connection is still there
        assert uow.users.by_nickname("Ann4") is not None


def test_another_thread_gets_its_own_connection_closed_when_the_thread_ends(sqlite_pool_of_one):
    engine, made = sqlite_pool_of_one
    direct = DirectStatements(engine)
    direct.count(ADD_USER, **a_user(1))
    found = []
    thread = threading.Thread(target=lambda: found.append(direct.first(USER, id=1001)))
    thread.start()
    thread.join()
    gc.collect()
    assert found[0]["nickname"] == "Ann1"
    assert len(made) == 2, "the schema's, kept by this thread; the other thread's"
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        made[1].execute("SELECT 1")
    assert direct.first(USER, id=1001) is not None, "this thread's is still open"


def test_a_kept_connection_found_broken_is_replaced(sqlite_pool_of_one):
    engine, made = sqlite_pool_of_one
    direct = DirectStatements(engine)
    direct.count(ADD_USER, **a_user(1))
    thread_connections(engine).connection().close()
    with pytest.raises(StoreUnavailable), domain_errors():
        direct.first(USER, id=1001)
    assert direct.first(USER, id=1001) is not None
    assert len(made) == 2, "a new connection in place of the broken one"


def test_an_in_memory_database_is_the_one_its_units_of_work_see():
    engine = create_database_engine("sqlite://")
    metadata.create_all(engine)
    DirectStatements(engine).count(ADD_USER, **a_user(1))
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.users.by_nickname("Ann1") is not None
    engine.dispose()
