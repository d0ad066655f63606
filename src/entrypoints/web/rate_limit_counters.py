"""Rate-limit counters in the worker's memory: what Flask-Limiter counts with when no Redis
is configured (MICROBLOG_REDIS_URL), as a storage of the `limits` library's own kind (its
documented registry of storage schemes, `worker-memory://`).

limits' MemoryStorage starts a timer thread 10 ms after a hit that sweeps every counter it
holds, so the CPU of each hit grows with the number of clients seen in the last window
(bench/counters.py). Here a counter is trimmed when it is used, and a hit drops at most two
counters nobody has used for their whole window: no thread, and the same work per hit
however many clients there are. Hits count as MemoryStorage counts them."""

import threading
import time
from collections import OrderedDict, deque
from typing import Any

from limits.storage import MovingWindowSupport, Storage

SCHEME = "worker-memory"
# Counters a hit drops at most: more than the one it may add, so idle ones never pile up.
DROPPED_PER_HIT = 2


class WorkerMemoryCounters(Storage, MovingWindowSupport):
    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 (limits declares it a list)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}  # moving windows: each hit's time, oldest first
        self._counts: dict[str, tuple[int, float]] = {}  # fixed windows: count, end of window
        # Every key, least recently used first, with when it has nothing left to count.
        self._idle_from: OrderedDict[str, float] = OrderedDict()

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] < now - expiry:
                hits.popleft()
            if len(hits) + amount > limit:
                return False
            hits.extend([now] * amount)
            self._used(key, now + expiry, now)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """The oldest hit in the window and the number of hits in it; (now, 0) when none."""
        now = time.time()
        with self._lock:
            counted = [hit for hit in self._hits.get(key, ()) if hit > now - expiry]
        return (counted[0], len(counted)) if counted else (now, 0)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            count, ends = self._counts.get(key, (0, now))
            if ends <= now:
                count, ends = 0, now + expiry
            self._counts[key] = (count + amount, ends)
            self._used(key, ends, now)
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
            held = len(self._idle_from)
            self._hits.clear()
            self._counts.clear()
            self._idle_from.clear()
        return held

    def _used(self, key: str, idle_from: float, now: float) -> None:
        self._idle_from[key] = max(idle_from, self._idle_from.get(key, idle_from))
        self._idle_from.move_to_end(key)
        for _ in range(DROPPED_PER_HIT):
            oldest, idle = next(iter(self._idle_from.items()))
            if idle > now:
                break
            self._forget(oldest)

    def _forget(self, key: str) -> None:
        self._hits.pop(key, None)
        self._counts.pop(key, None)
        self._idle_from.pop(key, None)
