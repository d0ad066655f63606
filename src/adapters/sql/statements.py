"""Single statements for the stores: each runs on its own autocommitting connection and comes
back as plain dicts. `CoreStatements` runs them through SQLAlchemy Core's
`Connection.execute`; `CompiledStatements` compiles each once and runs it on the pool's DB-API
connection, giving the same rows and the same errors."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, ColumnElement, CursorResult, Engine, Executable, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ReturnsRows

from adapters.sql.engine import autocommitting

Row = dict[str, Any]
Processor = Callable[[Any], Any]


class CoreStatements:
    """Runs one statement at a time, each its own transaction (see `autocommitting`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = autocommitting(engine)

    def first(self, statement: Executable, **parameters: Any) -> Row | None:
        rows, _ = self._run(statement, parameters)
        return rows[0] if rows else None

    def all(self, statement: Executable, **parameters: Any) -> list[Row]:
        return self._run(statement, parameters)[0]

    def count(self, statement: Executable, **parameters: Any) -> int:
        """Rows the statement changed (or returned)."""
        return self._run(statement, parameters)[1]

    def _run(self, statement: Executable, parameters: Mapping[str, Any]) -> tuple[list[Row], int]:
        with self._engine.connect() as connection:
            result: CursorResult[Any] = connection.execute(statement, parameters)
            # Every row is read before the connection goes back: a RETURNING statement is
            # done then.
            if result.returns_rows:
                rows = [dict(row._mapping) for row in result]
                return rows, len(rows)
            # An INSERT may return its new key by itself (PostgreSQL), which leaves no rowcount.
            changed = len(result.inserted_primary_key_rows) if result.is_insert else result.rowcount
            return [], changed


@dataclass(frozen=True)
class _Plan:
    """A statement compiled for one dialect and one set of parameter names, with the type
    processors its values go through on the way in and out."""

    compiled: SQLCompiler
    binds: tuple[tuple[str, Processor], ...]
    columns: tuple[Processor | None, ...]

    def arguments(self, parameters: Mapping[str, Any]) -> Any:
        values = self.compiled.construct_params(parameters)
        for name, process in self.binds:
            values[name] = process(values[name])
        order = self.compiled.positiontup
        return values if order is None else tuple(values[name] for name in order)

    def rows(self, names: Sequence[str], fetched: Sequence[Sequence[Any]]) -> list[Row]:
        return [
            {
                name: value if process is None else process(value)
                for name, process, value in zip(names, self.columns, values, strict=True)
            }
            for values in fetched
        ]


def _plan(statement: Executable, keys: Sequence[str], dialect: Dialect) -> _Plan | None:
    """The statement compiled as `Connection.execute` would compile it, or None when Core's
    execution does more than send it: Python-side defaults, IN lists and values rendered
    into the SQL at execution, keys the database hands back by itself."""
    if not isinstance(statement, ClauseElement):
        return None
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    if (
        not isinstance(compiled, SQLCompiler)
        or compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.implicit_returning
        # Names SQLAlchemy escapes in the SQL would not match the parameters' names.
        or not all(name.isidentifier() for name in compiled.bind_names.values())
    ):
        return None
    # One name may stand for several parameters (`now` in a WHERE and a SET): processed once.
    processors = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for bind, name in compiled.bind_names.items()
    }
    binds = tuple((name, process) for name, process in processors.items() if process is not None)
    returned: Sequence[ColumnElement[Any]] = ()
    if isinstance(statement, ReturnsRows):
        returned = list(statement.exported_columns)
    # Core also passes the driver's type code; no column type of these tables reads it.
    columns = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned
    )
    return _Plan(compiled, binds, columns)


def _wrapped(
    error: Exception, plan: _Plan, arguments: Any, dialect: Dialect, lost: bool
) -> BaseException:
    """The driver's error as the SQLAlchemy error `Connection.execute` raises for it, made
    the way Core makes it, so that `domain_errors` reads it the same way."""
    return exc.DBAPIError.instance(
        plan.compiled.string,
        arguments,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )


class CompiledStatements(CoreStatements):
    """Like `CoreStatements`, without Core's work per statement: each statement is compiled
    once per set of parameter names, then sent on a connection the pool lends (so pinged
    first where the engine says so), its values turned by SQLAlchemy's own type processors.
    A statement Core must help with runs through Core."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._dialect = engine.dialect
        # SQLite's connections commit each statement by themselves (see engine.py).
        self._sets_autocommit = engine.dialect.name != "sqlite"
        self._plans: dict[tuple[Executable, tuple[str, ...]], _Plan | None] = {}

    def _run(self, statement: Executable, parameters: Mapping[str, Any]) -> tuple[list[Row], int]:
        key = (statement, tuple(parameters))
        try:
            plan = self._plans[key]
        except KeyError:
            plan = self._plans[key] = _plan(statement, key[1], self._dialect)
        if plan is None:
            return super()._run(statement, parameters)
        names, fetched, changed = self._sent(plan, plan.arguments(parameters))
        rows = plan.rows(names, fetched)
        return rows, len(rows) if plan.columns else changed

    def _sent(self, plan: _Plan, arguments: Any) -> tuple[list[str], Sequence[Any], int]:
        dbapi_error = self._dialect.loaded_dbapi.Error
        try:
            lent = self._engine.raw_connection()
        except dbapi_error as error:
            lost = self._dialect.is_disconnect(error, None, None)
            raise _wrapped(error, plan, arguments, self._dialect, lost) from error
        try:
            return self._sent_on(lent, plan, arguments)
        finally:
            lent.close()

    def _sent_on(
        self, lent: PoolProxiedConnection, plan: _Plan, arguments: Any
    ) -> tuple[list[str], Sequence[Any], int]:
        connection = lent.dbapi_connection
        assert connection is not None, "a lent connection is open"
        cursor = None
        try:
            if self._sets_autocommit:
                self._dialect.set_isolation_level(connection, "AUTOCOMMIT")
            cursor = connection.cursor()
            cursor.execute(plan.compiled.string, arguments)
            # Every row is read before the cursor closes: a RETURNING statement is done then.
            if not plan.columns:
                return [], [], cursor.rowcount
            names = [described[0] for described in cursor.description]
            return names, cursor.fetchall(), cursor.rowcount
        except self._dialect.loaded_dbapi.Error as error:
            lost = self._dialect.is_disconnect(error, connection, cursor)
            if lost:
                lent.invalidate(error)
            raise _wrapped(error, plan, arguments, self._dialect, lost) from error
        finally:
            self._give_back(lent, cursor)

    def _give_back(self, lent: PoolProxiedConnection, cursor: Any) -> None:
        """The connection goes back to the pool as it came (not in autocommit), or is
        thrown away."""
        try:
            if cursor is not None:
                cursor.close()
            connection = lent.dbapi_connection
            if self._sets_autocommit and lent.is_valid and connection is not None:
                self._dialect.reset_isolation_level(connection)
        except self._dialect.loaded_dbapi.Error as error:
            lent.invalidate(error)
