"""`python -m bench.counters [rounds]`: the CPU of a rate-limit hit as more clients are
counted, in the worker's counters (web/rate_limit_counters.py) and in limits' MemoryStorage:
with `held` counters of earlier clients still in their minute, new clients hit a limit 80
times a second for a while, as sign-ins from many addresses do. Process CPU, so the threads
a storage starts count too; the same loop without any hit is measured in turn and taken off.
"""

import resource
import statistics
import sys
import time
from collections.abc import Callable

from limits import parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from entrypoints.web.rate_limit_counters import WorkerMemoryCounters

HELD = (10, 1000, 5000)
HITS_A_SECOND = 80
SECONDS = 1.0
ROUNDS = 3
OURS, THEIRS = "the worker's counters", "limits' MemoryStorage"
STORAGES: dict[str, Callable[[], Storage]] = {OURS: WorkerMemoryCounters, THEIRS: MemoryStorage}


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _hits(hit: Callable[[int], object]) -> float:
    """CPU seconds per iteration of HITS_A_SECOND iterations a second for SECONDS."""
    count, started, cpu = 0, time.perf_counter(), _cpu()
    while time.perf_counter() - started < SECONDS:
        hit(count)
        count += 1
        time.sleep(1 / HITS_A_SECOND)
    return (_cpu() - cpu) / count


def cpu_per_hit(storage: Callable[[], Storage], held: int) -> float:
    """Microseconds of CPU one hit costs with `held` counters in their window."""
    limiter, limit = MovingWindowRateLimiter(storage()), parse("30/minute")
    for n in range(held):
        limiter.hit(limit, f"earlier-{n}")
    spent = _hits(lambda n: limiter.hit(limit, f"new-{n}"))
    return (spent - _hits(lambda n: None)) * 1e6


def samples(rounds: int = ROUNDS) -> dict[str, list[float]]:
    """Rows of figures: CPU per hit by storage and counters held, then MemoryStorage's over
    the worker's counters' (a ratio per round)."""
    rows: dict[str, list[float]] = {}
    for _ in range(rounds):
        for held in HELD:
            costs = {name: cpu_per_hit(make, held) for name, make in STORAGES.items()}
            for name, cost in costs.items():
                rows.setdefault(f"{name}, {held} clients counted: us per hit", []).append(cost)
            # The loop's own cost taken off may leave ours at about nothing: 1 us at least.
            row = f"{THEIRS} / {OURS} (1 us at least), {held} clients counted"
            rows.setdefault(row, []).append(costs[THEIRS] / max(costs[OURS], 1.0))
    return rows


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    for row, figures in samples(rounds).items():
        print(f"{row}: {statistics.median(figures):.0f} ({min(figures):.0f}-{max(figures):.0f})")


if __name__ == "__main__":
    main()
