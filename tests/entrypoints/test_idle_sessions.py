"""Sessions without remember-me end after MICROBLOG_SESSION_IDLE_MINUTES unused (issue 26,
item 10). Last-seen is written at most once per SessionPolicy.touch_interval (5 minutes), so a
session ends between the limit less that interval and the limit after its last use."""

from datetime import timedelta

import pytest
from dependency_injector import providers
from hypothesis import given
from hypothesis import strategies as st

from adapters.sql.migrate import upgrade_database
from entrypoints.settings import ConfigurationError, load_settings
from tests.entrypoints.conftest import log_in, make_app
from tests.fakes import FakeClock

DEFAULT_IDLE = timedelta(minutes=30)
TOUCH_INTERVAL = timedelta(minutes=5)


@pytest.fixture
def clock(app):
    clock = FakeClock()
    app.extensions["container"].clock.override(providers.Object(clock))
    return clock


def home(client):
    return client.get("/index")


def test_a_session_unused_for_longer_than_the_idle_limit_is_sent_to_the_login_page(client, clock):
    log_in(client)
    assert home(client).status_code == 200
    clock.advance(DEFAULT_IDLE + timedelta(seconds=1))
    answer = home(client)
    assert answer.status_code == 302
    assert "/login" in answer.headers["Location"]
    clock.advance(timedelta(seconds=1))
    assert home(client).status_code == 302, "the session is gone, not just refused once"


def test_a_session_used_within_the_idle_limit_stays_signed_in_for_hours(client, clock):
    log_in(client)
    for _ in range(10):  # an hour and a half, a page every 9 minutes
        clock.advance(timedelta(minutes=9))
        assert home(client).status_code == 200


def test_the_idle_limit_is_kept_to_within_the_interval_at_which_last_seen_is_written(client, clock):
    log_in(client)
    clock.advance(TOUCH_INTERVAL - timedelta(seconds=1))
    assert home(client).status_code == 200  # used, but last-seen not written: too soon
    clock.advance(DEFAULT_IDLE - TOUCH_INTERVAL + timedelta(seconds=1))
    assert home(client).status_code == 302  # 30 minutes after last-seen, 25 after last use


def test_a_remembered_session_is_not_ended_by_the_idle_limit(client, clock):
    log_in(client, remember=True)
    clock.advance(timedelta(days=3))
    assert home(client).status_code == 200


def test_the_idle_limit_follows_the_setting_and_can_be_switched_off(tmp_path):
    for minutes, signed_in_after_an_hour in [(90, True), ("off", True), (45, False)]:
        app = make_app(tmp_path / str(minutes), session_idle_minutes=minutes)
        services = app.extensions["container"]
        upgrade_database(services.engine())
        clock = FakeClock()
        services.clock.override(providers.Object(clock))
        client = app.test_client()
        log_in(client)
        clock.advance(timedelta(hours=1))
        assert (home(client).status_code == 200) is signed_in_after_an_hour, minutes
        services.shutdown_resources()


@pytest.mark.parametrize("minutes", [0, 9, 1441, -5, 1.5, "1e10", "inf", "soon", True, ""])
def test_an_idle_limit_out_of_bounds_stops_the_start_with_one_line(tmp_path, minutes):
    with pytest.raises(ConfigurationError) as refused:
        make_app(tmp_path, session_idle_minutes=minutes)
    message = str(refused.value)
    assert "session_idle_minutes" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "limit"), [("10", 10), ("1440", 1440), (" 60 ", 60), ("OFF", None)]
)
def test_the_idle_limit_is_read_from_the_environment(tmp_path, monkeypatch, text, limit):
    monkeypatch.setenv("MICROBLOG_SESSION_IDLE_MINUTES", text)
    app = make_app(tmp_path)
    policy = app.extensions["container"].session_policy()
    assert policy.idle_limit == (None if limit is None else timedelta(minutes=limit))


@given(
    st.one_of(
        st.integers(),
        st.floats(),
        st.booleans(),
        st.text(max_size=8),
        st.integers(min_value=-20, max_value=2000).map(str),
        st.sampled_from(["off", "Off", " OFF ", "of", "10 ", "0x20", "١٥"]),
    )
)
def test_any_idle_setting_is_minutes_within_bounds_or_off_or_a_one_line_refusal(value):
    try:
        minutes = load_settings({"session_idle_minutes": value}, environ={})["session_idle_minutes"]
    except ConfigurationError as refused:
        assert "session_idle_minutes" in str(refused)
        assert "\n" not in str(refused)
        return
    if minutes == "off":
        assert str(value).strip().lower() == "off"
    else:
        assert 10 <= minutes <= 1440
        assert str(minutes) == str(value).strip()
