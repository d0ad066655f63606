import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class SecretsTokenSource:
    def __init__(self, nbytes: int = 32) -> None:
        self._nbytes = nbytes

    def new_token(self) -> str:
        return secrets.token_urlsafe(self._nbytes)


class EveryNthCall:
    """Runs `action` on every `every`-th call (never when `every` is 0), counting the calls of
    all this process's threads; a call answers the action's result, or 0 when not its turn."""

    def __init__(self, action: Callable[[], int], every: int) -> None:
        self._action = action
        self._every = every
        self._calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._calls += 1
            due = self._every > 0 and self._calls % self._every == 0
        return self._action() if due else 0
