"""Prometheus metrics (prometheus-client). Under gunicorn, PROMETHEUS_MULTIPROC_DIR makes
every worker write its values to files that a scrape adds up."""

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from domain.model import AuditEvent
from domain.ports import AuditTrail

LOGINS = Counter("microblog_logins", "Sign-ins by provider and outcome", ["provider", "outcome"])
PROVIDER_ERRORS = Counter(
    "microblog_provider_errors", "Answers refused or providers unreachable", ["provider", "error"]
)
LOGIN_SECONDS = Histogram(
    "microblog_login_duration_seconds",
    "Time to finish a sign-in once the provider's answer arrives",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMITED = Counter("microblog_rate_limited", "Requests refused by a rate limit", ["endpoint"])
# Refusals that say something about the provider rather than the person.
PROVIDER_TROUBLE = frozenset({"SignInFailed", "SignInMismatch", "ProviderUnavailable"})


class CountingAuditTrail:
    """The audit trail, with sign-ins counted on the way."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail

    def record(self, event: AuditEvent) -> None:
        self._trail.record(event)
        provider = event.provider or "-"
        if event.kind == "sign_in.succeeded":
            LOGINS.labels(provider, "succeeded").inc()
        elif event.kind == "sign_in.refused":
            LOGINS.labels(provider, "refused").inc()
            if event.detail in PROVIDER_TROUBLE:
                PROVIDER_ERRORS.labels(provider, event.detail).inc()

    def events(
        self, *, user_id: int | None = None, since: datetime | None = None, limit: int = 1000
    ) -> Sequence[AuditEvent]:
        return self._trail.events(user_id=user_id, since=since, limit=limit)


class ActiveSessions(Collector):
    """Live sessions, counted in the database when scraped (so every worker agrees)."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "microblog_active_sessions", "Sessions not yet expired", value=self._count()
        )


def scrape_registry(count_sessions: Callable[[], int]) -> CollectorRegistry:
    """What a scrape reports: every worker's values when gunicorn runs several
    (PROMETHEUS_MULTIPROC_DIR), this process's otherwise, and the live sessions."""
    scraped = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(scraped)  # type: ignore[no-untyped-call]
    else:
        scraped.register(_AllOf(REGISTRY))
    scraped.register(ActiveSessions(count_sessions))
    return scraped


class _AllOf(Collector):
    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()
