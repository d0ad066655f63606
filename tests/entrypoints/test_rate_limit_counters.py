"""The worker's rate-limit counters count hits as limits' own MemoryStorage does, keep no
counter nobody uses, and start no thread: what makes a hit cost the same however many
clients came in the last minute."""

import threading
import time
from unittest import mock

import pytest
from flask_limiter.commands import cli as limiter_commands
from hypothesis import given
from hypothesis import strategies as st
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from entrypoints.web.rate_limit_counters import DROPPED_PER_HIT, SCHEME, WorkerMemoryCounters
from tests.entrypoints.conftest import make_app
from tests.fakes import FakeSeconds

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


@pytest.fixture
def clock():
    """time.time, which both storages read, as the test sets it."""
    at = FakeSeconds()
    with mock.patch.object(time, "time", at):
        yield at


class MovingWindows:
    """limits' MemoryStorage's rules, without its sweeping thread: a new hit is let through
    when it and the hits at most a window old fit the limit; the window's figures are the
    hits less than a window old."""

    def __init__(self, clock: FakeSeconds) -> None:
        self.clock, self.hits = clock, {}

    def acquire_entry(self, key, limit, expiry, amount):
        now = self.clock.now
        counted = [hit for hit in self.hits.get(key, []) if hit >= now - expiry]
        if amount > limit or len(counted) + amount > limit:
            return False
        self.hits.setdefault(key, []).extend([now] * amount)
        return True

    def get_moving_window(self, key, limit, expiry):
        now = self.clock.now
        inside = [hit for hit in self.hits.get(key, []) if hit > now - expiry]
        return (min(inside), len(inside)) if inside else (now, 0)


@given(hits)
def test_hits_count_as_limits_own_memory_storage_counts_them(sequence):
    clock = FakeSeconds()
    with mock.patch.object(time, "time", clock):
        ours, model = WorkerMemoryCounters(), MovingWindows(clock)
        for key, cost, wait in sequence:
            clock.now += wait
            limit, window = LIMITS[key]
            assert ours.acquire_entry(key, limit, window, cost) == model.acquire_entry(
                key, limit, window, cost
            )
            assert ours.get_moving_window(key, limit, window) == model.get_moving_window(
                key, limit, window
            )


def test_a_hit_exactly_a_window_old_counts_whatever_other_clients_do(clock):
    counters = WorkerMemoryCounters()
    assert counters.acquire_entry("a", 1, 1)
    clock.now += 1
    assert counters.acquire_entry("b", 1, 1)  # a's counter goes idle only after now
    assert not counters.acquire_entry("a", 1, 1)


def test_the_model_is_limits_own_memory_storage_on_hits_off_the_window_edges(clock):
    theirs, model = MemoryStorage(), MovingWindows(clock)
    for _ in range(12):
        clock.now += 0.3
        assert theirs.acquire_entry("k", 3, 1) == model.acquire_entry("k", 3, 1, 1)
        assert theirs.get_moving_window("k", 3, 1)[1] == model.get_moving_window("k", 3, 1)[1]


@given(st.lists(st.sampled_from([0, 0.5, 1, 2, 5]), max_size=20), st.integers(1, 5))
def test_fixed_window_counts_restart_when_their_window_ends(waits, window):
    clock = FakeSeconds()
    with mock.patch.object(time, "time", clock):
        ours, theirs = WorkerMemoryCounters(), MemoryStorage()
        for wait in waits:
            clock.now += wait
            assert ours.incr("k", window) == theirs.incr("k", window)
            assert ours.get("k") == theirs.get("k")
            assert ours.get_expiry("k") == theirs.get_expiry("k")


def test_counters_nobody_used_for_their_window_are_dropped_by_later_hits(clock):
    counters = WorkerMemoryCounters()
    for n in range(100):
        counters.acquire_entry(f"yesterday-{n}", 10, 60)
    clock.now += 61
    for n in range(100 // DROPPED_PER_HIT):
        counters.acquire_entry(f"today-{n}", 10, 60)
    assert counters.reset() == 100 // DROPPED_PER_HIT, "only today's are held"


def test_idle_counters_behind_a_longer_window_in_use_are_dropped_too(clock):
    counters = WorkerMemoryCounters()
    assert counters.acquire_entry("an hour's", 5, 3600)
    for n in range(100):
        counters.acquire_entry(f"yesterday-{n}", 10, 60)
    clock.now += 61
    for n in range(100 // DROPPED_PER_HIT):
        counters.acquire_entry(f"today-{n}", 10, 60)
    assert counters.reset() == 1 + 100 // DROPPED_PER_HIT


def test_a_counter_in_use_is_kept_with_its_hits(clock):
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


class SlowToAdd(list):
    """A counter's hits, added after a pause: another thread may look at them meanwhile."""

    def extend(self, hits):
        time.sleep(0.001)
        super().extend(hits)


class HitsAddedSlowly(dict):
    def setdefault(self, key, default=None):
        return super().setdefault(key, SlowToAdd())


def test_threads_hitting_one_counter_let_through_exactly_its_limit():
    counters, let_through = WorkerMemoryCounters(), []
    counters._hits = HitsAddedSlowly()  # widens the moment between a look and an add

    def hit_many() -> None:
        let_through.extend(counters.acquire_entry("shared", 10, 60) for _ in range(10))

    threads = [threading.Thread(target=hit_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert let_through.count(True) == 10


def test_a_cleared_or_reset_counter_starts_again():
    counters = WorkerMemoryCounters()
    assert counters.acquire_entry("k", 1, 60)
    counters.clear("k")
    assert counters.get_moving_window("k", 1, 60)[1] == 0
    assert counters.acquire_entry("k", 1, 60)
    counters.reset()
    assert counters.acquire_entry("k", 1, 60)
    assert not counters.acquire_entry("k", 1, 60)


def test_a_hit_starts_no_thread():
    limiter = MovingWindowRateLimiter(WorkerMemoryCounters())
    for n in range(3):
        time.sleep(0.02)  # MemoryStorage's sweeping thread would be done, and start again
        before = set(threading.enumerate())
        limiter.hit(parse("10/minute"), f"client-{n}")
        assert set(threading.enumerate()) <= before


def test_the_scheme_names_these_counters():
    assert isinstance(storage_from_string(f"{SCHEME}://"), WorkerMemoryCounters)


def test_flask_limiters_config_command_shows_them(tmp_path):
    app = make_app(tmp_path)
    app.cli.add_command(limiter_commands, "limiter")
    shown = app.test_cli_runner().invoke(args=["limiter", "config"])
    assert shown.exit_code == 0, shown.exception  # it reads the storage's `storage`
    assert "OK" in shown.output  # and its health


def test_without_redis_the_app_counts_in_the_workers_memory(tmp_path):
    limiter = make_app(tmp_path).extensions["limiter"]
    assert {type(each.storage) for each in limiter} == {WorkerMemoryCounters}
