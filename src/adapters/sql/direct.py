"""Single statements on the pool's DB-API connection, for the stores' hot paths.

Around the driver's own few microseconds, SQLAlchemy's `Connection.execute` builds an
execution context, result metadata and a `Row` per call: a session lookup took 58-79 us
through it and 32-34 us here on this project's machines, and the gap is wider inside a real
request, when the CPU's caches hold other code. A sign-in runs about ten single statements.

What SQLAlchemy does that matters is kept: its dialect compiles each statement (once), its
types turn the values in and out, its pool lends the connection, and a driver's error becomes
SQLAlchemy's, which `domain_errors` translates as before. Each statement commits by itself,
like `autocommitting`.

On SQLite each thread keeps a connection of its own for these statements (`ThreadConnections`):
lending one from the pool and taking it back cost as much as the statement itself. PostgreSQL
connections still come from the pool each time, which pings them first: a server can go away.
"""

import os
import threading
import weakref
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ClauseElement, Engine, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from adapters.sql.engine import sqlite_on_disk

Processor = Callable[[Any], Any] | None
Row = dict[str, Any]


@dataclass(frozen=True)
class _Prepared:
    compiled: SQLCompiler
    bind_processors: Mapping[str, Processor]
    columns: tuple[tuple[str, Processor], ...]

    def arguments(self, parameters: Mapping[str, Any]) -> Any:
        values = self.compiled.construct_params(parameters)
        for name, process in self.bind_processors.items():
            if process is not None and values.get(name) is not None:
                values[name] = process(values[name])
        order = self.compiled.positiontup
        return values if order is None else tuple(values[name] for name in order)

    def row(self, values: tuple[Any, ...]) -> Row:
        return {
            name: value if process is None or value is None else process(value)
            for (name, process), value in zip(self.columns, values, strict=True)
        }


class _KeptConnection:
    """A thread's own SQLite connection: closed when the thread ends (its locals go), never
    by a process it was forked into."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.pid = os.getpid()

    def __del__(self) -> None:
        with suppress(Exception):  # at interpreter exit, even `os` may be gone
            if self.pid == os.getpid():
                self.connection.close()


class ThreadConnections(threading.local):
    """One SQLite connection per thread for single statements, made by the engine's pool (so
    with its settings) and then detached from it: a thread's connection counts against no
    pool limit, and the pool's own connections stay for units of work. Between statements
    it holds no lock: each statement commits by itself and its cursor is closed."""

    def __init__(self, engine: "weakref.ref[Engine]") -> None:
        self._engine = engine
        self._kept: _KeptConnection | None = None

    def connection(self) -> Any:
        kept = self._kept
        if kept is None or kept.pid != os.getpid():
            engine = self._engine()
            assert engine is not None, "the stores keep their engine"
            lent = engine.raw_connection()
            connection = lent.driver_connection
            lent.detach()
            kept = self._kept = _KeptConnection(connection)
        return kept.connection

    def forget(self) -> None:
        """After the connection was found broken: the next statement makes a new one."""
        self._kept = None


# Shared by every store on an engine, so a thread keeps one connection, not one per store.
_THREAD_CONNECTIONS: "weakref.WeakKeyDictionary[Engine, ThreadConnections]" = (
    weakref.WeakKeyDictionary()
)
_THREAD_CONNECTIONS_LOCK = threading.Lock()


def thread_connections(engine: Engine) -> ThreadConnections:
    with _THREAD_CONNECTIONS_LOCK:
        kept = _THREAD_CONNECTIONS.get(engine)
        if kept is None:
            kept = _THREAD_CONNECTIONS[engine] = ThreadConnections(weakref.ref(engine))
        return kept


class DirectStatements:
    """Runs one statement at a time, each its own transaction; see the module's notes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        # SQLite's connections commit each statement by themselves (see engine.py); a
        # PostgreSQL connection is switched to autocommit for the statement, then back.
        sqlite = engine.dialect.name == "sqlite"
        self._toggles_autocommit = not sqlite
        # An in-memory database lives in the pool's connection: it is not taken from there.
        on_disk = sqlite and sqlite_on_disk(engine.url)
        self._kept = thread_connections(engine) if on_disk else None
        self._prepared: dict[tuple[Executable, frozenset[str]], _Prepared] = {}

    def first(self, statement: Executable, **parameters: Any) -> Row | None:
        rows, _ = self._run(statement, parameters)
        return rows[0] if rows else None

    def all(self, statement: Executable, **parameters: Any) -> list[Row]:
        return self._run(statement, parameters)[0]

    def count(self, statement: Executable, **parameters: Any) -> int:
        """Rows the statement changed."""
        return self._run(statement, parameters)[1]

    def _run(self, statement: Executable, parameters: Mapping[str, Any]) -> tuple[list[Row], int]:
        prepared = self._prepare(statement, frozenset(parameters))
        arguments = prepared.arguments(parameters)
        if self._kept is not None:
            return self._on_kept(prepared, arguments, self._kept)
        return self._on_lent(prepared, arguments)

    def _on_kept(
        self, prepared: _Prepared, arguments: Any, kept: ThreadConnections
    ) -> tuple[list[Row], int]:
        try:
            connection = kept.connection()
        except self._dialect.loaded_dbapi.Error as error:
            raise self._translated(error, prepared, arguments, lost=False) from error
        cursor = None
        try:
            cursor = connection.cursor()
            return _executed(cursor, prepared, arguments)
        except self._dialect.loaded_dbapi.Error as error:
            lost = self._dialect.is_disconnect(error, connection, cursor)
            if lost:
                kept.forget()
            raise self._translated(error, prepared, arguments, lost) from error
        finally:
            if cursor is not None:
                cursor.close()

    def _on_lent(self, prepared: _Prepared, arguments: Any) -> tuple[list[Row], int]:
        try:
            lent = self._engine.raw_connection()
        except self._dialect.loaded_dbapi.Error as error:
            raise self._translated(error, prepared, arguments, lost=False) from error
        connection: Any = lent.driver_connection
        cursor = None
        try:
            if self._toggles_autocommit:
                connection.autocommit = True
            cursor = lent.cursor()
            return _executed(cursor, prepared, arguments)
        except self._dialect.loaded_dbapi.Error as error:
            lost = self._dialect.is_disconnect(error, connection, cursor)
            if lost:
                lent.invalidate(error)
            raise self._translated(error, prepared, arguments, lost) from error
        finally:
            if cursor is not None:
                cursor.close()
            if self._toggles_autocommit and lent.is_valid:
                connection.autocommit = False
            lent.close()

    def _translated(
        self, error: Exception, prepared: _Prepared, arguments: Any, lost: bool
    ) -> Exception:
        """The driver's error as SQLAlchemy's, as `Connection.execute` would raise it."""
        return DBAPIError.instance(
            prepared.compiled.string,
            arguments,
            error,
            self._dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=self._dialect,
        )

    def _prepare(self, statement: Executable, keys: frozenset[str]) -> _Prepared:
        prepared = self._prepared.get((statement, keys))
        if prepared is None:
            prepared = self._prepared[(statement, keys)] = self._compile(statement, keys)
        return prepared

    def _compile(self, statement: Executable, keys: frozenset[str]) -> _Prepared:
        dialect = self._dialect
        compiled = cast(ClauseElement, statement).compile(dialect=dialect, column_keys=sorted(keys))
        assert isinstance(compiled, SQLCompiler)
        # Python-side defaults and expanding parameters are worked out by SQLAlchemy's
        # execution context, which this skips.
        if (
            compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.insert_prefetch
            or compiled.update_prefetch
        ):
            raise ValueError(f"not a statement DirectStatements can run: {compiled.string}")
        bind_processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for bind, name in compiled.bind_names.items()
        }
        columns = tuple(
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in getattr(statement, "exported_columns", ())
        )
        return _Prepared(compiled, bind_processors, columns)


def _executed(cursor: Any, prepared: _Prepared, arguments: Any) -> tuple[list[Row], int]:
    cursor.execute(prepared.compiled.string, arguments)
    # Every row is read before the cursor closes: a RETURNING statement is done then.
    values = cursor.fetchall() if prepared.columns else []
    return [prepared.row(row) for row in values], cursor.rowcount
