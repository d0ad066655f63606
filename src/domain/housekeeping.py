"""Expired rows go without cron: what one sweep removes."""

from collections.abc import Callable, Sequence
from datetime import datetime

from domain.ports import Clock

Chore = Callable[[datetime, int], int]


class Housekeeping:
    """Expired rows go without cron: a sweep removes the rows expired by the clock's now from
    each store, at most `batch` apiece, so that no sweep takes long. When to sweep is decided
    outside the domain (the container: every n-th login start)."""

    def __init__(self, chores: Sequence[Chore], clock: Clock, batch: int) -> None:
        self._chores = chores
        self._clock = clock
        self._batch = batch

    def sweep(self) -> int:
        """How many rows this sweep removed."""
        now = self._clock.now()
        return sum(chore(now, self._batch) for chore in self._chores)
