"""The stores' single statements on the pool's DB-API connection (adapters/sql/direct.py), on
SQLite and a real PostgreSQL: values go in and come out as SQLAlchemy's types make them,
errors are SQLAlchemy's (so the domain's), and a connection goes back to the pool as it came."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, insert, select, text

from adapters.sql.direct import DirectStatements
from adapters.sql.engine import create_database_engine
from adapters.sql.errors import domain_errors
from adapters.sql.tables import login_sessions, metadata, users
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import Conflict, StoreUnavailable
from domain.model import NewUser

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
        "nickname_key": f"ann{number}",
        "email": None,
        "active": True,
        "created_at": WHEN,
    }


def test_values_come_back_as_the_column_types_make_them(one_connection):
    direct = DirectStatements(one_connection)
    assert direct.count(ADD_USER, **a_user(1)) == 1
    row = direct.first(USER, id=1001)
    assert row == a_user(1)
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
