import logging

from domain.model import AuditEvent

log = logging.getLogger("microblog.audit")


class LoggingAuditTrail:
    """Audit events as log lines, one per event, with the event's fields as `extra`."""

    def record(self, event: AuditEvent) -> None:
        fields = {
            "audit_kind": event.kind,
            "audit_user_id": event.user_id,
            "audit_provider": event.provider,
        }
        log.info(
            "%s user=%s provider=%s%s",
            event.kind,
            event.user_id,
            event.provider or "-",
            f" {event.detail}" if event.detail else "",
            extra=fields,
        )
