"""Audit events: what is recorded, stamped with the time and where the action came from."""

from collections.abc import Callable

from domain.model import AuditEvent, Device
from domain.ports import AuditTrail, Clock


class Recorder:
    """Writes audit events stamped with the time and with where the action came from."""

    def __init__(self, trail: AuditTrail, origin: Callable[[], Device], clock: Clock) -> None:
        self._trail = trail
        self._origin = origin
        self._clock = clock

    def record(
        self,
        kind: str,
        user_id: int | None,
        provider: str | None = None,
        detail: str | None = None,
    ) -> None:
        device = self._origin()
        event = AuditEvent(
            kind,
            self._clock.now(),
            user_id,
            provider,
            detail,
            device.client_address,
            device.user_agent,
        )
        self._trail.record(event)
