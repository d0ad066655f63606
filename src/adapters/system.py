import secrets
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SecretsTokenSource:
    def __init__(self, nbytes: int = 32) -> None:
        self._nbytes = nbytes

    def new_token(self) -> str:
        return secrets.token_urlsafe(self._nbytes)
