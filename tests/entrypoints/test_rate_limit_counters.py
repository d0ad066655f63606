"""The worker's rate-limit counters count hits as limits' own MemoryStorage does, keep no
counter nobody uses, and start no thread: what makes a hit cost the same however many
clients came in the last minute."""

import threading
import time
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from entrypoints.web.rate_limit_counters import DROPPED_PER_HIT, SCHEME, WorkerMemoryCounters
from tests.entrypoints.conftest import make_app

# A limits key names its limit (amount and window): one key, one limit.
LIMITS = {"a": (1, 1), "b": (3, 2), "c": (4, 5)}  # key: (hits allowed, window in seconds)
hits = st.lists(
    st.tuples(
        st.sampled_from(sorted(LIMITS)),
        st.integers(1, 3),  # the hit's cost
        st.sampled_from([0, 0.5, 1, 2, 2.5, 5]),  # seconds since the last hit
    ),
    max_size=40,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@given(hits)
def test_hits_count_as_limits_own_memory_storage_counts_them(sequence):
    clock = Clock()
    with mock.patch.object(time, "time", clock):
        ours, theirs = WorkerMemoryCounters(), MemoryStorage()
        for key, cost, wait in sequence:
            clock.now += wait
            limit, window = LIMITS[key]
            let_through = ours.acquire_entry(key, limit, window, cost)
            assert let_through == theirs.acquire_entry(key, limit, window, cost)
            start, count = ours.get_moving_window(key, limit, window)
            their_start, their_count = theirs.get_moving_window(key, limit, window)
            assert count == their_count
            if count:  # with no hit counted, MemoryStorage names an expired one
                assert start == their_start


@given(st.lists(st.sampled_from([0, 0.5, 1, 2, 5]), max_size=20), st.integers(1, 5))
def test_fixed_window_counts_restart_when_their_window_ends(waits, window):
    clock = Clock()
    with mock.patch.object(time, "time", clock):
        ours, theirs = WorkerMemoryCounters(), MemoryStorage()
        for wait in waits:
            clock.now += wait
            assert ours.incr("k", window) == theirs.incr("k", window)
            assert ours.get("k") == theirs.get("k")
            assert ours.get_expiry("k") == theirs.get_expiry("k")


def test_counters_nobody_used_for_their_window_are_dropped_by_later_hits():
    clock = Clock()
    with mock.patch.object(time, "time", clock):
        counters = WorkerMemoryCounters()
        for n in range(100):
            counters.acquire_entry(f"yesterday-{n}", 10, 60)
        clock.now += 61
        for n in range(100 // DROPPED_PER_HIT):
            counters.acquire_entry(f"today-{n}", 10, 60)
        assert counters.reset() == 100 // DROPPED_PER_HIT, "only today's are held"


def test_a_counter_in_use_is_kept_with_its_hits():
    clock = Clock()
    with mock.patch.object(time, "time", clock):
        counters = WorkerMemoryCounters()
        assert counters.acquire_entry("busy", 2, 60)
        clock.now += 30
        for n in range(10):
            counters.acquire_entry(f"other-{n}", 10, 1)
        clock.now += 20
        for n in range(10):
            counters.acquire_entry(f"later-{n}", 10, 1)
        assert counters.acquire_entry("busy", 2, 60)
        assert not counters.acquire_entry("busy", 2, 60), "both earlier hits still count"


def test_a_hit_starts_no_thread():
    limiter = MovingWindowRateLimiter(WorkerMemoryCounters())
    for n in range(3):
        time.sleep(0.02)  # MemoryStorage's sweeping thread would be done, and start again
        before = set(threading.enumerate())
        limiter.hit(parse("10/minute"), f"client-{n}")
        assert set(threading.enumerate()) <= before


def test_the_scheme_names_these_counters():
    assert isinstance(storage_from_string(f"{SCHEME}://"), WorkerMemoryCounters)


def test_without_redis_the_app_counts_in_the_workers_memory(tmp_path):
    limiter = make_app(tmp_path).extensions["limiter"]
    assert {type(each.storage) for each in limiter} == {WorkerMemoryCounters}
