"""Single statements for the stores: each runs on its own autocommitting connection, through
SQLAlchemy Core's `Connection.execute`, and comes back as plain dicts."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Engine, Executable

from adapters.sql.engine import autocommitting

Row = dict[str, Any]


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
