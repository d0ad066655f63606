from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, bindparam, insert, select

from adapters.audit import LoggingAuditTrail
from adapters.sql.engine import autocommitting
from adapters.sql.errors import domain_errors
from adapters.sql.statements import CompiledStatements
from adapters.sql.tables import audit_events, row_of
from domain.model import AuditEvent

# inline(): no RETURNING of the new id (PostgreSQL's implicit one), which nothing reads.
_ADD = insert(audit_events).inline()
_EVENT_FIELDS = [column for column in audit_events.c if column.name != "id"]


class SqlAuditTrail:
    """Audit events as rows of `audit_events`, and as log lines too."""

    def __init__(self, engine: Engine) -> None:
        self._engine = autocommitting(engine)
        self._single = CompiledStatements(engine)
        self._log = LoggingAuditTrail()

    def record(self, event: AuditEvent) -> None:
        self._log.record(event)
        row = row_of(event) | {"detail": (event.detail or "")[:255] or None}
        with domain_errors():
            self._single.count(_ADD, **row)

    def events(
        self, *, user_id: int | None = None, since: datetime | None = None, limit: int = 1000
    ) -> Sequence[AuditEvent]:
        query = select(*_EVENT_FIELDS).order_by(audit_events.c.id).limit(bindparam("limit"))
        if user_id is not None:
            query = query.where(audit_events.c.user_id == user_id)
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        with domain_errors(), self._engine.connect() as connection:
            rows = connection.execute(query, {"limit": limit})
            return [AuditEvent(**row._mapping) for row in rows]
