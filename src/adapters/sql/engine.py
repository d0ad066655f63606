from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_IMMEDIATE = "sqlite_immediate"


def create_database_engine(url: str, **options: Any) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...), tuned per database."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, **options)
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def _sqlite_engine(url: str, **options: Any) -> Engine:
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below, not the sqlite3 module, decide where transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {DEFAULT_SQLITE_BUSY_TIMEOUT_MS}")
        if sqlite_on_disk(url):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        # IMMEDIATE takes the write lock up front, so a writer waits (busy_timeout) for another
        # instead of failing when its read snapshot turns out stale at its first write.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(SQLITE_IMMEDIATE) else "BEGIN")

    return engine


def sqlite_on_disk(url: str | URL) -> bool:
    """A SQLite database in a file, not one that lives and dies with its connection."""
    return make_url(url).database not in (None, "", ":memory:")


def database_answers(engine: Engine) -> bool:
    """Whether a trivial query succeeds now."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return True
    except SQLAlchemyError:
        return False


def autocommitting(engine: Engine) -> Engine:
    """The same pool, but every statement is its own transaction: no BEGIN, no COMMIT.

    For stores whose every call is one statement, which is atomic by itself; it saves two
    round trips per call on PostgreSQL and two statements on SQLite.
    """
    if engine.dialect.name == "sqlite":
        # With isolation_level None (above) the sqlite3 module commits each statement by itself,
        # so this is the same pool and dialect without the BEGIN listener. An engine with any
        # connection-event listener runs SQLAlchemy's event dispatch around every statement.
        return Engine(engine.pool, engine.dialect, engine.url)
    return engine.execution_options(isolation_level="AUTOCOMMIT")
