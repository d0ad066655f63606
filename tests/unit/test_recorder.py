"""`Recorder`, which the services write audit events through."""

from datetime import timedelta

from domain.audit import Recorder
from domain.model import AuditEvent, Device
from tests.fakes import FakeAuditTrail, FakeClock


def test_an_event_is_stamped_with_the_time_and_the_browser_and_address_it_came_from():
    trail, clock = FakeAuditTrail(), FakeClock()
    origins = iter([Device("Browser/1", "192.0.2.1"), Device()])
    recorder = Recorder(trail, lambda: next(origins), clock)
    recorder.record("sign_in.succeeded", 1, "dev")
    clock.advance(timedelta(seconds=5))
    recorder.record("account.disabled", 1, detail="by an operator")
    assert trail.recorded == [
        AuditEvent(
            "sign_in.succeeded",
            clock.now() - timedelta(seconds=5),
            1,
            "dev",
            None,
            "192.0.2.1",
            "Browser/1",
        ),
        AuditEvent("account.disabled", clock.now(), 1, None, "by an operator", None, None),
    ]
