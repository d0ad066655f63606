import json
import logging
import os
import re

import pytest

from adapters.sql.migrate import upgrade_database
from devtools.servers import PostgresServer, free_port, postgres_bin_dir
from entrypoints.settings import ConfigurationError, chosen_log_format, load_settings
from entrypoints.web.logs import JsonLines, RequestIds, TextLines
from tests.entrypoints.conftest import make_app


def test_healthz_says_the_process_is_up_without_a_cookie(client):
    page = client.get("/healthz")
    assert (page.status_code, page.get_data(as_text=True)) == (200, "ok\n")
    assert "Set-Cookie" not in page.headers


def test_readyz_is_200_when_the_database_answers(client):
    page = client.get("/readyz")
    assert (page.status_code, page.get_json()) == (200, {"database": "ok"})


@pytest.mark.server_error
def test_readyz_is_503_when_the_database_or_redis_does_not_answer(tmp_path):
    no_database = make_app(tmp_path, database_url=f"sqlite:///{tmp_path}/no/such/dir.sqlite")
    page = no_database.test_client().get("/readyz")
    assert (page.status_code, page.get_json()) == (503, {"database": "unreachable"})
    no_redis = make_app(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    upgrade_database(no_redis.extensions["container"].engine())
    page = no_redis.test_client().get("/readyz")
    assert (page.status_code, page.get_json()) == (503, {"database": "ok", "redis": "unreachable"})


@pytest.mark.postgres
@pytest.mark.server_error
def test_readyz_follows_a_postgresql_outage_and_recovery(tmp_path):
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(bin_dir)
    server.start()
    try:
        app = make_app(tmp_path, database_url=server.url())
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        server.pause()
        assert client.get("/readyz").status_code == 503
        server.resume()
        assert client.get("/readyz").status_code == 200
        app.extensions["container"].shutdown_resources()
    finally:
        server.stop()


def test_every_response_names_its_request(client):
    first, second = client.get("/login"), client.get("/login")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("offered", "kept"), [("lb-1234.abc", True), ("x" * 65, False), ("a b;c", False)]
)
def test_a_proxys_request_id_is_kept_when_it_looks_like_one(tmp_path, offered, kept):
    client = make_app(tmp_path, trusted_proxies=1).test_client()
    answered = client.get("/healthz", headers={"X-Request-ID": offered}).headers["X-Request-ID"]
    assert (answered == offered) is kept


def test_a_request_id_from_a_client_is_replaced_when_no_proxy_is_trusted(client):
    answered = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert re.fullmatch(r"[0-9a-f]{32}", answered.headers["X-Request-ID"])


def test_log_lines_are_json_with_the_request_id_and_extra_fields(app):
    formatter, ids = JsonLines(), RequestIds()
    with app.test_request_context("/login"):
        app.preprocess_request()
        record = logging.makeLogRecord(
            {"name": "microblog.audit", "levelname": "INFO", "msg": "%s happened", "args": ("x",)}
        )
        record.audit_kind = "session.ended"
        ids.filter(record)
        line = json.loads(formatter.format(record))
    assert line["message"] == "x happened" and line["level"] == "info"
    assert line["audit_kind"] == "session.ended"
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])


def test_text_log_lines_give_time_level_message_and_request_id(app):
    with app.test_request_context("/login"):
        app.preprocess_request()
        record = logging.makeLogRecord(
            {"name": "microblog.audit", "levelname": "INFO", "msg": "%s happened", "args": ("x",)}
        )
        record.audit_kind = "sign_out"
        RequestIds().filter(record)
        line = TextLines().format(record)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} INFO    x happened  \[request [0-9a-f]{32}\] audit_kind=sign_out",
        line,
    ), line


PRODUCTION = {
    "MICROBLOG_ENV": "production",
    "MICROBLOG_SECRET_KEY": "k" * 32,
    "MICROBLOG_BASE_URL": "https://microblog.example",
}


@pytest.mark.parametrize(
    ("environ", "chosen"),
    [
        ({}, "text"),
        (PRODUCTION, "json"),
        ({"MICROBLOG_LOG_FORMAT": "json"}, "json"),
        (PRODUCTION | {"MICROBLOG_LOG_FORMAT": "text"}, "text"),
    ],
)
def test_logs_are_text_in_development_and_json_in_production_unless_a_setting_says(environ, chosen):
    assert chosen_log_format(load_settings(environ=environ)) == chosen


def test_an_unknown_log_format_is_refused_at_start():
    with pytest.raises(ConfigurationError, match="MICROBLOG_LOG_FORMAT"):
        load_settings(environ={"MICROBLOG_LOG_FORMAT": "xml"})


def expire_everything(app):
    """Rows of every kind the sweep deletes, all long expired."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from adapters.sql.tables import (
        login_sessions,
        login_transactions,
        openid_associations,
        openid_nonces,
        parked_callbacks,
    )

    past = datetime.now(UTC) - timedelta(days=60)
    services = app.extensions["container"]
    with services.unit_of_work() as uow:
        user = uow.users.add(__import__("domain.model").model.NewUser("old", None, past))
        uow.commit()
    rows = {
        login_sessions: [
            {
                "token_hash": f"h{n}",
                "user_id": user.id,
                "remember": False,
                "created_at": past,
                "last_seen_at": past,
                "expires_at": past,
            }
            for n in range(5)
        ],
        login_transactions: [
            {
                "id": f"t{n}",
                "provider": "fake",
                "next_url": None,
                "remember": False,
                "provider_state": "{}",
                "created_at": past,
                "expires_at": past,
            }
            for n in range(5)
        ],
        parked_callbacks: [
            {"handle": f"p{n}", "provider": "fake", "params": "{}", "expires_at": past}
            for n in range(5)
        ],
        openid_nonces: [
            {"server_url": "https://op", "timestamp": 1, "salt": f"s{n}"} for n in range(5)
        ],
        openid_associations: [
            {
                "server_url": "https://op",
                "handle": f"a{n}",
                "secret": b"x",
                "issued": 1,
                "lifetime": 1,
                "assoc_type": "HMAC-SHA1",
                "expires": 2,
            }
            for n in range(5)
        ],
    }
    with services.engine().begin() as connection:
        for table, values in rows.items():
            connection.execute(insert(table), values)
    return list(rows)


def remaining(app, tables):
    from sqlalchemy import func, select

    with app.extensions["container"].engine().connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in tables
        }


def test_housekeeping_removes_expired_rows_without_any_cli_call(tmp_path):
    app = make_app(tmp_path, housekeeping_every=3)
    upgrade_database(app.extensions["container"].engine())
    tables = expire_everything(app)
    client = app.test_client()
    from tests.entrypoints.conftest import start_login

    for _ in range(2):
        start_login(client)
    before = remaining(app, tables)
    assert before.pop("login_transactions") == 7, "5 expired, 2 fresh"
    assert set(before.values()) == {5}, "not its turn yet"
    start_login(client)
    counts = remaining(app, tables)
    assert counts.pop("login_transactions") == 3, "the 3 fresh logins in flight stay"
    assert set(counts.values()) == {0}


def test_a_sweep_takes_a_bounded_batch_from_each_store(tmp_path):
    app = make_app(tmp_path, housekeeping_every=1)
    app.extensions["container"].housekeeping.add_kwargs(batch=2)
    upgrade_database(app.extensions["container"].engine())
    tables = expire_everything(app)
    from tests.entrypoints.conftest import start_login

    start_login(app.test_client())
    counts = remaining(app, tables)
    assert counts == {
        "login_sessions": 3,
        "login_transactions": 4,  # 5 - 2 expired + the fresh one
        "parked_callbacks": 3,
        "openid_nonces": 3,
        "openid_associations": 3,
    }


def metric(client, name, **labels):
    """A value of /metrics, 0.0 when the series is not there yet."""
    text = client.get("/metrics").get_data(as_text=True)
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = (
        rf"^{name}(?:\{{{re.escape(wanted)}\}})? ([0-9.e+]+)$"
        if labels
        else rf"^{name} ([0-9.e+]+)$"
    )
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_sign_ins_refusals_durations_and_live_sessions(app, client):
    from tests.entrypoints.conftest import log_in

    succeeded = dict(provider="fake", outcome="succeeded")
    refused = dict(provider="fake", outcome="refused")
    before = (
        metric(client, "microblog_logins_total", **succeeded),
        metric(client, "microblog_logins_total", **refused),
        metric(client, "microblog_login_duration_seconds_count"),
    )
    log_in(client, nickname="alice")
    log_in(app.test_client(), mode="cancel")
    after = (
        metric(client, "microblog_logins_total", **succeeded),
        metric(client, "microblog_logins_total", **refused),
        metric(client, "microblog_login_duration_seconds_count"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 2]
    assert metric(client, "microblog_active_sessions") == 1


def test_metrics_count_rate_limit_refusals(tmp_path):
    from tests.entrypoints.conftest import start_login

    app = make_app(tmp_path, rate_limit_login="1/minute")
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    before = metric(client, "microblog_rate_limited_total", endpoint="auth.login")
    start_login(client)
    assert start_login(client).status_code == 429
    assert metric(client, "microblog_rate_limited_total", endpoint="auth.login") == before + 1


def test_metrics_are_hidden_from_addresses_not_allowed(client):
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "forwarded",
    ["garbage", "unknown", "1.2.3.4.5", "127.0.0.1:80", "[::1]", "::1%", "\u0661.0.0.1"],
)
def test_metrics_behind_a_proxy_forwarding_no_address_are_hidden_not_an_error(tmp_path, forwarded):
    client = make_app(tmp_path, trusted_proxies=1).test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": forwarded}).status_code == 404


def test_metrics_behind_a_trusted_proxy_follow_the_forwarded_address(tmp_path):
    app = make_app(tmp_path, trusted_proxies=1)
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
