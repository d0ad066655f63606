"""Reusing a provider's answers as long as its caching headers say (RFC 9111 4.2):
Cache-Control's no-store, no-cache and max-age, else Expires against Date, less Age; a
default when they say nothing, and never longer than the site allows."""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.request import parse_http_list

from adapters.http.client import HttpResponse

NEVER = 0.0


def freshness_seconds(
    headers: Mapping[str, str], now: datetime, *, default: float, longest: float
) -> float:
    """Seconds the answer with these headers (names in lower case) may be reused; 0 for
    none. A header the site cannot read makes the answer stale, as RFC 9111 asks."""
    directives = cache_directives(headers.get("cache-control", ""))
    if "no-store" in directives or "no-cache" in directives or _varies_on_anything(headers):
        return NEVER
    if "max-age" in directives:
        lifetime = _seconds(directives["max-age"])
    elif "expires" in headers:
        lifetime = _until_expiry(headers, now)
    else:
        lifetime = default
    age = _seconds(headers["age"]) if "age" in headers else 0.0
    return max(NEVER, min(lifetime - age, longest))


def cache_directives(value: str) -> dict[str, str]:
    """Cache-Control's directives, names in lower case, values unquoted ("" for none)."""
    directives: dict[str, str] = {}
    for item in parse_http_list(value):
        name, _, argument = item.partition("=")
        directives.setdefault(name.strip().lower(), argument.strip().strip('"'))
    return directives


def _seconds(value: str) -> float:
    return float(value) if value.isascii() and value.isdigit() else NEVER


def _varies_on_anything(headers: Mapping[str, str]) -> bool:
    return "*" in (name.strip() for name in headers.get("vary", "").split(","))


def _until_expiry(headers: Mapping[str, str], now: datetime) -> float:
    expires = _date(headers["expires"])
    if expires is None:  # "0" and other unreadable dates mean "already expired"
        return NEVER
    sent = _date(headers.get("date", "")) or now
    return (expires - sent).total_seconds()


def _date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Kept:
    response: HttpResponse
    until: float


class ResponseCache:
    """Answers to GET requests kept while their caching headers allow, per process; only a
    200 is kept, never an error. Anyone can make the site fetch a URL of theirs, so at most
    `capacity_bytes` of bodies are kept, the least recently used forgotten first."""

    def __init__(
        self,
        default_seconds: float = 3600,
        longest_seconds: float = 86400,
        capacity_bytes: int = 4 * 2**20,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._default, self._longest = default_seconds, longest_seconds
        self._capacity = capacity_bytes
        self._now, self._monotonic = now, monotonic
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> HttpResponse | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            if kept.until <= self._monotonic():
                self._forget(key)
                return None
            self._kept.move_to_end(key)
            return kept.response

    def keep(self, key: Hashable, response: HttpResponse) -> None:
        if response.status != 200 or len(response.body) > self._capacity:
            return
        seconds = freshness_seconds(
            response.headers, self._now(), default=self._default, longest=self._longest
        )
        if seconds <= 0:
            return
        with self._lock:
            self._forget(key)
            self._kept[key] = _Kept(response, self._monotonic() + seconds)
            self._bytes += len(response.body)
            while self._bytes > self._capacity:
                self._forget(next(iter(self._kept)))

    def _forget(self, key: Hashable) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept.response.body)
