"""Single statements on the pool's DB-API connection, for the stores' hot paths.

Around the driver's own few microseconds, SQLAlchemy's `Connection.execute` builds an
execution context, result metadata and a `Row` per call: a session lookup took 58-79 us
through it and 32-34 us here on this project's machines, and the gap is wider inside a real
request, when the CPU's caches hold other code. A sign-in runs about ten single statements.

What SQLAlchemy does that matters is kept: its dialect compiles each statement (once), its
types turn the values in and out, its pool lends the connection, and a driver's error becomes
SQLAlchemy's, which `domain_errors` translates as before. Each statement commits by itself,
like `autocommitting`.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ClauseElement, Engine, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

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


class DirectStatements:
    """Runs one statement at a time, each its own transaction; see the module's notes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        # SQLite's connections commit each statement by themselves (see engine.py); a
        # PostgreSQL connection is switched to autocommit for the statement, then back.
        self._toggles_autocommit = engine.dialect.name != "sqlite"
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
            cursor.execute(prepared.compiled.string, arguments)
            # Every row is read before the cursor closes: a RETURNING statement is done then.
            values = cursor.fetchall() if prepared.columns else []
            return [prepared.row(row) for row in values], cursor.rowcount
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
