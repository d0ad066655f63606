import logging
import time

import pytest
from flask import Flask

from adapters.sql.migrate import upgrade_database
from devtools.servers import free_port
from entrypoints.rate_limits import hooks_only_on
from tests.entrypoints.conftest import log_in, make_app, start_login


@pytest.fixture
def limited_app(tmp_path):
    def limited_app(**limits):
        app = make_app(tmp_path, **limits)
        upgrade_database(app.extensions["container"].engine())
        return app

    yield limited_app


def test_the_31st_login_start_in_a_minute_from_one_address_gets_429(limited_app, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])  # the limits library's clock
    client = limited_app(rate_limit_login="30/minute").test_client()
    for _ in range(30):
        assert start_login(client).status_code == 303
    refused = start_login(client)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many attempts from here." in body and "Traceback" not in body
    clock[0] += 61
    assert start_login(client).status_code == 303, "a later one succeeds"


def test_login_starts_are_limited_per_typed_identifier_too(limited_app):
    app = limited_app(rate_limit_identifier="3/minute")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        assert start_login(client, identifier="https://id.example/ALICE").status_code == 303
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.4"
    assert start_login(elsewhere, identifier=" https://id.example/alice ").status_code == 429
    assert start_login(elsewhere, identifier="https://id.example/bob").status_code == 303
    assert start_login(elsewhere).status_code == 303, "a button with no identifier is not counted"


def test_provider_returns_are_limited_per_address(limited_app):
    client = limited_app(rate_limit_callback="2/minute").test_client()
    assert client.get("/login/return/fake?state=x").status_code == 400
    assert client.post("/login/return/fake", data={"state": "x"}).status_code == 303
    assert client.get("/login/return/fake?state=x").status_code == 429


def test_account_actions_are_limited_per_user(limited_app):
    app = limited_app(rate_limit_account="2/minute")
    client = app.test_client()
    log_in(client, nickname="alice")
    token = client.get("/account").get_data(as_text=True).split('name="csrf_token" value="')[1]
    token = token.split('"')[0]
    for name in ("alice-1", "alice-2"):
        page = client.post("/account/nickname", data={"nickname": name, "csrf_token": token})
        assert page.status_code == 302
    assert (
        client.post("/account/nickname", data={"nickname": "x", "csrf_token": token}).status_code
        == 429
    )
    assert client.get("/account").status_code == 200, "the page itself is not limited"


def test_limits_can_be_switched_off(limited_app):
    client = limited_app().test_client()
    assert all(start_login(client).status_code == 303 for _ in range(40))


def test_a_limit_storage_that_is_down_lets_requests_through_and_says_so(limited_app, caplog):
    closed_port = free_port()
    app = limited_app(rate_limit_login="1/minute", redis_url=f"redis://127.0.0.1:{closed_port}/0")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        assert [start_login(client).status_code for _ in range(3)] == [303, 303, 303]
    assert any("rate limit" in record.getMessage().lower() for record in caplog.records)


def test_a_bad_limit_is_refused_at_start(tmp_path):
    from entrypoints.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"rate_limit_login: .*is not a limit"):
        make_app(tmp_path, rate_limit_login="thirty a minute")


def test_an_extensions_request_hooks_run_only_on_the_endpoints_given():
    app = Flask(__name__)
    app.add_url_rule("/limited", "limited", lambda: "limited")
    app.add_url_rule("/free", "free", lambda: "free")
    ran: list[str] = []

    def install(app):
        app.before_request(lambda: ran.append("before"))
        app.after_request(lambda response: ran.append("after") or response)
        app.teardown_request(lambda error: ran.append("teardown"))

    hooks_only_on(app, {"limited"}, install)
    client = app.test_client()
    assert client.get("/free").get_data(as_text=True) == "free"
    assert ran == []
    assert client.get("/limited").get_data(as_text=True) == "limited"
    assert ran == ["before", "after", "teardown"]


def test_hooks_the_app_had_before_the_extension_still_run_everywhere():
    app = Flask(__name__)
    app.add_url_rule("/free", "free", lambda: "free")
    app.after_request(lambda response: response.headers.set("X-Own", "yes") or response)
    hooks_only_on(app, set(), lambda app: app.before_request(lambda: "refused"))
    page = app.test_client().get("/free")
    assert page.get_data(as_text=True) == "free" and page.headers["X-Own"] == "yes"
