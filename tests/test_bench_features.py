"""bench.features switches each feature off for real: what it measures as "without" is an app
that lacks just that, so its figures say what the feature costs; and every switch of
bench.speedups builds an app that works."""

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from bench.features import EVERYTHING, FEATURES, SWITCHES
from bench.speedups import SWITCHES as SPEEDUP_SWITCHES
from bench.speedups import bench_app
from domain.model import AuditEvent

LOGIN_SECONDS = "microblog_login_duration_seconds_count"


def app_without(name, tmp_path):
    building, change = SWITCHES[name] if name else (None, None)
    if building is None:
        return bench_app(str(tmp_path))
    with building():
        app = bench_app(str(tmp_path))
    change(app)
    return app


def what_it_has(app):
    client = app.test_client()
    page = client.get("/login")
    before = REGISTRY.get_sample_value(LOGIN_SECONDS) or 0
    client.get("/login/return/openid?state=x")
    trail = app.extensions["container"].audit_trail()
    event = AuditEvent("bench.checked", datetime.now(UTC), None, None, None, None, None)
    trail.record(event)
    return {
        "rate limits (Flask-Limiter)": "limiter" in app.extensions,
        "the audit trail (a row and a log line per event)": event in trail.events(),
        "request ids (logs.set_up_request_ids)": "X-Request-ID" in page.headers,
        "security headers": "Content-Security-Policy" in page.headers,
        "the sign-in duration metric (metrics.measure)": (
            REGISTRY.get_sample_value(LOGIN_SECONDS) or 0
        )
        > before,
    }


def test_the_app_as_shipped_has_every_feature_the_bench_switches_off(tmp_path):
    assert what_it_has(app_without(None, tmp_path)) == dict.fromkeys(FEATURES, True)


@pytest.mark.parametrize("name", list(FEATURES))
def test_each_switch_takes_away_its_feature_and_nothing_else(tmp_path, name):
    assert what_it_has(app_without(name, tmp_path)) == {f: f != name for f in FEATURES}


def test_the_last_switch_takes_away_every_feature(tmp_path):
    assert what_it_has(app_without(EVERYTHING, tmp_path)) == dict.fromkeys(FEATURES, False)


@pytest.mark.parametrize("name", list(SPEEDUP_SWITCHES))
def test_each_speedup_switch_builds_an_app_that_serves_its_pages(tmp_path, name):
    building, change = SPEEDUP_SWITCHES[name]
    with building():
        app = bench_app(str(tmp_path))
    change(app)
    assert app.test_client().get("/login").status_code == 200
