"""Rate-limit counters in the worker's memory: what Flask-Limiter counts with when no Redis
is configured (MICROBLOG_REDIS_URL), as a storage of the `limits` library's own kind (its
documented registry of storage schemes, `worker-memory://`).

limits' MemoryStorage starts a timer thread at a hit (unless one is pending) that sweeps
every counter it holds 10 ms later, so the CPU of each hit grows with the number of clients
seen in the last window (bench/counters.py). Here a counter is trimmed when it is used, and
each hit let through drops at most two counters of each window length that nobody has used
for a whole window: no thread, and the same work per hit however many clients there are.
Hits count as MemoryStorage counts them."""

import threading
import time
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from typing import Any

from limits.storage import MovingWindowSupport, Storage

SCHEME = "worker-memory"
# Counters of one window length a hit drops at most: more than the one it may add.
DROPPED_PER_HIT = 2


class WorkerMemoryCounters(Storage, MovingWindowSupport):
    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 (limits declares it a list)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}  # moving windows: each hit's time, in order
        self._counts: dict[str, tuple[int, float]] = {}  # fixed windows: count, end of window
        # By window length, each key with when it has nothing left to count, soonest first:
        # one window length per key (limits names the limit in the key).
        self._idle_from: dict[float, OrderedDict[str, float]] = {}

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    @property
    def storage(self) -> str:
        """What Flask-Limiter's `limiter config` command shows of it."""
        return f"the worker's memory, {self._held()} counters"

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Let a hit through when the hits at most a window old and it fit the limit."""
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            hits = self._hits.setdefault(key, [])
            del hits[: bisect_left(hits, now - expiry)]
            if len(hits) + amount > limit:
                return False
            hits.extend([now] * amount)
            self._used(key, expiry, now + expiry, now)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """The oldest hit less than a window old and the number of them; (now, 0) if none."""
        now = time.time()
        with self._lock:
            hits = self._hits.get(key, [])
            counted = hits[bisect_right(hits, now - expiry) :]
        return (counted[0], len(counted)) if counted else (now, 0)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends <= now:
                count, ends = 0, now + expiry
            self._counts[key] = (count + amount, ends)
            self._used(key, expiry, ends, now)
            return count + amount

    def get(self, key: str) -> int:
        count, ends = self._counts.get(key, (0, 0.0))
        return count if ends > time.time() else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        ends = self._counts.get(key, (0, now))[1]
        return ends if ends > now else now

    def check(self) -> bool:
        return True

    def clear(self, key: str) -> None:
        with self._lock:
            self._forget(key)

    def reset(self) -> int:
        with self._lock:
            held = self._held()
            self._hits.clear()
            self._counts.clear()
            self._idle_from.clear()
        return held

    def _used(self, key: str, expiry: float, idle_from: float, now: float) -> None:
        """Keeps `key` in its window length's order, then drops counters gone idle."""
        same_length = self._idle_from.setdefault(expiry, OrderedDict())
        if same_length.get(key) != idle_from:
            same_length.pop(key, None)
            same_length[key] = idle_from  # never sooner than any other key's of this length
        for keys in self._idle_from.values():
            for _ in range(DROPPED_PER_HIT):
                oldest = next(iter(keys.items()), None)
                # A hit exactly a window old still counts: idle only after that.
                if oldest is None or oldest[1] >= now:
                    break
                self._forget(oldest[0])

    def _forget(self, key: str) -> None:
        self._hits.pop(key, None)
        self._counts.pop(key, None)
        for keys in self._idle_from.values():
            keys.pop(key, None)

    def _held(self) -> int:
        return sum(len(keys) for keys in self._idle_from.values())
