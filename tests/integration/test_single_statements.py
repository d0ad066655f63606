"""The stores' single statements (adapters/sql/statements.py), through each runner, on SQLite
and a real PostgreSQL: values go in and come out as SQLAlchemy's types make them, errors are
SQLAlchemy's (so the domain's), and a connection goes back to the pool as it came."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select, text

from adapters.sql.engine import create_database_engine
from adapters.sql.errors import domain_errors
from adapters.sql.statements import CompiledStatements, CoreStatements
from adapters.sql.tables import login_sessions, metadata, users
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from devtools.servers import free_port
from domain.errors import Conflict, StoreUnavailable
from domain.model import NewUser
from domain.nicknames import nickname_key

WHEN = datetime(2026, 11, 22, 7, 30, 15, 123456, tzinfo=UTC)
ADD_USER = insert(users)
USER = select(users).where(users.c.id == bindparam("id"))
ADD_SESSION = insert(login_sessions)


@pytest.fixture(params=[CoreStatements, CompiledStatements])
def runner(request):
    return request.param


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


def test_values_come_back_as_the_column_types_make_them(one_connection, runner):
    single = runner(one_connection)
    assert single.count(ADD_USER, **a_user(1)) == 1
    row = single.first(USER, id=1001)
    assert row == a_user(1) | {"language": None}
    assert row["created_at"].tzinfo is UTC and row["active"] is True
    assert single.first(USER, id=1002) is None


def test_a_duplicate_key_is_a_conflict_and_the_connection_still_serves(one_connection, runner):
    single = runner(one_connection)
    single.count(ADD_USER, **a_user(1))
    with pytest.raises(Conflict), domain_errors():
        single.count(ADD_USER, **a_user(1))
    assert single.first(USER, id=1001)["nickname"] == "Ann1"


def test_a_unit_of_work_after_direct_statements_still_rolls_back(one_connection, runner):
    """The statement ran in autocommit; the same connection must be transactional again."""
    single = runner(one_connection)
    single.count(ADD_USER, **a_user(1))
    with pytest.raises(Conflict), domain_errors():
        single.count(ADD_USER, **a_user(1))
    with SqlAlchemyUnitOfWork(one_connection, writing=True) as uow:
        uow.users.add(NewUser("Bob", "bob@example.com", WHEN))
        # no commit
    with SqlAlchemyUnitOfWork(one_connection) as uow:
        assert uow.users.by_nickname("Bob") is None


def test_each_statement_is_committed_by_itself(one_connection, database_url, runner):
    runner(one_connection).count(ADD_USER, **a_user(1))
    other = create_database_engine(database_url)
    try:
        assert runner(other).first(USER, id=1001) is not None
    finally:
        other.dispose()


def test_returning_rows_are_read_and_the_change_is_kept(one_connection, runner):
    single = runner(one_connection)
    single.count(ADD_USER, **a_user(1))
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
    single.count(ADD_SESSION, **session)
    take = (
        login_sessions.delete()
        .where(login_sessions.c.token_hash == bindparam("token_hash"))
        .returning(login_sessions.c.user_id, login_sessions.c.expires_at)
    )
    assert single.first(take, token_hash="h" * 64) == {
        "user_id": 1001,
        "expires_at": WHEN + timedelta(days=1),
    }
    assert single.first(take, token_hash="h" * 64) is None


def test_a_database_that_is_gone_is_unavailable(tmp_path, runner):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}")
    with pytest.raises(StoreUnavailable), domain_errors():
        runner(engine).first(USER, id=1)


def test_a_python_side_default_is_filled_in(one_connection, runner):
    """`active` has a Python-side default, which SQLAlchemy's execution fills in."""
    without_active = {k: v for k, v in a_user(1).items() if k != "active"}
    runner(one_connection).count(ADD_USER, **without_active)
    assert runner(one_connection).first(USER, id=1001)["active"] is True


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


def test_every_store_gives_its_connection_back_to_the_pool(sqlite_pool_of_one, runner):
    engine, _made = sqlite_pool_of_one
    users_store, sessions_store = runner(engine), runner(engine)
    for number in range(5):
        users_store.count(ADD_USER, **a_user(number))
        assert sessions_store.first(USER, id=1000 + number) is not None
    assert engine.pool.checkedout() == 0
    with SqlAlchemyUnitOfWork(engine) as uow:  # the pool's one connection is still there
        assert uow.users.by_nickname("Ann4") is not None


def test_another_thread_sees_what_a_statement_wrote(sqlite_pool_of_one, runner):
    engine, _made = sqlite_pool_of_one
    single = runner(engine)
    single.count(ADD_USER, **a_user(1))
    found = []
    thread = threading.Thread(target=lambda: found.append(single.first(USER, id=1001)))
    thread.start()
    thread.join()
    assert found[0]["nickname"] == "Ann1"
    assert single.first(USER, id=1001) is not None


def test_a_pooled_connection_found_broken_is_replaced(sqlite_pool_of_one, runner):
    engine, made = sqlite_pool_of_one
    single = runner(engine)
    single.count(ADD_USER, **a_user(1))
    made[0].close()  # the pool's one connection, under the pool's feet
    with pytest.raises(StoreUnavailable), domain_errors():
        single.first(USER, id=1001)
    assert single.first(USER, id=1001) is not None
    assert len(made) == 2, "a new connection in place of the broken one"


def test_an_in_memory_database_is_the_one_its_units_of_work_see(runner):
    engine = create_database_engine("sqlite://")
    metadata.create_all(engine)
    runner(engine).count(ADD_USER, **a_user(1))
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.users.by_nickname("Ann1") is not None
    engine.dispose()


def test_an_in_list_runs_through_core_and_gives_its_rows(one_connection, runner):
    """IN lists are expanded at execution: the compiled runner leaves them to Core."""
    single = runner(one_connection)
    for number in (1, 2, 3):
        single.count(ADD_USER, **a_user(number))
    some = select(users.c.id).where(users.c.id.in_(bindparam("ids", expanding=True)))
    assert single.all(some.order_by(users.c.id), ids=[1001, 1003]) == [{"id": 1001}, {"id": 1003}]


def test_a_postgresql_that_does_not_answer_is_unavailable(runner):
    engine = create_database_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
        connect_args={"connect_timeout": 2},
    )
    with pytest.raises(StoreUnavailable), domain_errors():
        runner(engine).first(USER, id=1)
    engine.dispose()


def _end_every_other_backend(database_url: str) -> None:
    """What a server restart does to the pool's connections, from the server's side."""
    engine = create_database_engine(database_url)
    with engine.connect() as connection:
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_the_server_ended_is_replaced_before_the_statement(
    migrated_postgres_url, runner
):
    """The pool pings a connection before lending it (pool_pre_ping): no statement fails."""
    engine = create_database_engine(migrated_postgres_url, pool_size=1, max_overflow=0)
    single = runner(engine)
    assert single.first(USER, id=1) is None
    _end_every_other_backend(migrated_postgres_url)
    assert single.first(USER, id=1) is None
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_lost_during_a_statement_is_unavailable_then_replaced(
    migrated_postgres_url, runner
):
    engine = create_database_engine(
        migrated_postgres_url, pool_size=1, max_overflow=0, pool_pre_ping=False
    )
    single = runner(engine)
    assert single.first(USER, id=1) is None
    _end_every_other_backend(migrated_postgres_url)
    with pytest.raises(StoreUnavailable), domain_errors():
        single.first(USER, id=1)
    assert single.first(USER, id=1) is None
    assert engine.pool.checkedout() == 0
    engine.dispose()


def test_a_connection_that_cannot_leave_autocommit_is_not_lent_again(one_connection, monkeypatch):
    if one_connection.dialect.name == "sqlite":
        pytest.skip("SQLite's connections commit each statement by themselves")
    dialect = one_connection.dialect

    def cannot(connection):
        raise dialect.loaded_dbapi.OperationalError("the server went away meanwhile")

    single = CompiledStatements(one_connection)
    with monkeypatch.context() as patched:
        patched.setattr(dialect, "reset_isolation_level", cannot)
        single.count(ADD_USER, **a_user(1))  # ran, in autocommit, and stays done
    with SqlAlchemyUnitOfWork(one_connection, writing=True) as uow:
        uow.users.add(NewUser("Bob", "bob@example.com", WHEN))
        # no commit
    with SqlAlchemyUnitOfWork(one_connection) as uow:
        assert uow.users.by_nickname("Bob") is None
    assert single.first(USER, id=1001) is not None
