"""Housekeeping: the domain's sweep of what has expired (`Housekeeping`), and its schedule
outside the domain (`adapters.system.EveryNthCall`, every n-th login start)."""

import threading
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from adapters.system import EveryNthCall
from domain.housekeeping import Housekeeping
from domain.model import Session, SignIn
from tests.fakes import FakeClock, FakeSessions, FakeSingleUse


@given(expired=st.integers(0, 8), live=st.integers(0, 4), batch=st.integers(1, 5))
def test_a_sweep_removes_at_most_a_batch_of_expired_rows_from_each_store(expired, live, batch):
    clock = FakeClock()
    sessions, sign_ins = FakeSessions(), FakeSingleUse()
    now = clock.now()
    for n in range(expired + live):
        ends = now - timedelta(seconds=1) if n < expired else now + timedelta(hours=1)
        sessions.add(Session(f"s{n}", 1, False, now, now, ends))
        sign_ins.put(SignIn(f"t{n}", "dev", None, False, now, ends))
    sweep = Housekeeping([sessions.remove_expired, sign_ins.remove_expired], clock, batch)
    removed = min(expired, batch)
    assert sweep.sweep() == 2 * removed
    assert len(sessions.sessions) == len(sign_ins.items) == expired + live - removed
    still_expired = [s for s in sessions.sessions.values() if s.is_expired(now)]
    assert len(still_expired) == expired - removed


def test_a_sweep_asks_each_store_for_what_expired_by_the_clocks_now():
    clock, asked = FakeClock(), []
    Housekeeping([lambda now, limit: asked.append((now, limit)) or 0], clock, 7).sweep()
    assert asked == [(clock.now(), 7)]


@given(every=st.integers(0, 6), calls=st.integers(0, 30))
def test_the_schedule_runs_the_sweep_on_every_nth_call_and_never_when_n_is_0(every, calls):
    runs = []
    schedule = EveryNthCall(lambda: runs.append(1) or 3, every)
    answers = [schedule() for _ in range(calls)]
    due = [every > 0 and n % every == 0 for n in range(1, calls + 1)]
    assert answers == [3 if is_due else 0 for is_due in due]
    assert len(runs) == sum(due)


def test_the_schedule_counts_the_calls_of_every_thread():
    runs = []
    schedule = EveryNthCall(lambda: runs.append(1) or 0, 7)
    threads = [threading.Thread(target=lambda: [schedule() for _ in range(700)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 8 * 700 // 7
