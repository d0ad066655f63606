import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from dependency_injector import providers
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from adapters.sql.tables import login_sessions, openid_nonces
from entrypoints.cli.commands import parse_since, register_commands
from tests.entrypoints.conftest import log_in
from tests.fakes import FakeClock


def run(app, *args):
    register_commands(app)
    return app.test_cli_runner().invoke(args=list(args))


def count(app, table):
    with app.extensions["container"].engine().connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def sign_in(app, name, remember=False):
    client = app.test_client()
    log_in(client, f"https://id.example/{name}", remember=remember, nickname=name)
    return client


def test_users_list_shows_every_account(app):
    sign_in(app, "alice")
    sign_in(app, "bob")
    result = run(app, "users", "list")
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.output.splitlines()]
    assert [(row[1], row[3]) for row in rows] == [("alice", "active"), ("bob", "active")]


def test_disabling_a_user_ends_their_sessions_and_enabling_lets_them_back(app):
    client = sign_in(app, "alice", remember=True)
    result = run(app, "users", "disable", "ALICE")
    assert result.exit_code == 0 and "Disabled alice" in result.output
    assert client.get("/index").status_code == 302
    assert count(app, login_sessions) == 0
    assert "\tdisabled\t" in run(app, "users", "list").output
    assert run(app, "users", "enable", "alice").exit_code == 0
    assert sign_in(app, "alice").get("/index").status_code == 200


def test_revoking_sessions_signs_the_user_out_everywhere(app):
    laptop, phone = sign_in(app, "alice"), sign_in(app, "alice", remember=True)
    bob = sign_in(app, "bob")
    result = run(app, "sessions", "revoke", "alice")
    assert result.exit_code == 0 and "Ended 2 sessions of alice." in result.output
    assert laptop.get("/index").status_code == 302 and phone.get("/index").status_code == 302
    assert bob.get("/index").status_code == 200


def test_an_unknown_nickname_is_a_clear_error_not_a_traceback(app):
    for command in (["users", "disable"], ["users", "enable"], ["sessions", "revoke"]):
        result = run(app, *command, "nobody")
        assert result.exit_code == 1
        assert "There is no user called 'nobody'." in result.output
        assert "Traceback" not in result.output


def test_cleanup_commands_delete_only_what_expired(app):
    services = app.extensions["container"]
    sign_in(app, "alice")
    fresh_nonce = {"server_url": "https://op.example/", "timestamp": int(time.time()), "salt": "a"}
    stale_nonce = fresh_nonce | {"timestamp": 0}
    with services.engine().begin() as connection:
        connection.execute(insert(openid_nonces), [fresh_nonce, stale_nonce])
    assert run(app, "sessions", "cleanup").output.startswith("Deleted 0 expired sessions")
    assert count(app, login_sessions) == 1
    two_days_later = FakeClock(services.clock().now() + timedelta(days=2))
    with services.clock.override(providers.Object(two_days_later)):
        assert run(app, "sessions", "cleanup").output.startswith("Deleted 1 expired sessions")
    assert count(app, login_sessions) == 0
    result = run(app, "openid", "cleanup")
    assert result.exit_code == 0 and result.output.startswith("Deleted 1 nonces")
    assert count(app, openid_nonces) == 1


def test_db_upgrade_is_idempotent(app):
    assert run(app, "db", "upgrade").output == "Database is up to date.\n"


def test_the_microblog_command_is_installed_and_lists_the_commands(tmp_path):
    microblog = Path(sys.executable).with_name("microblog")
    environment = os.environ | {"MICROBLOG_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [microblog, "--help"], capture_output=True, text=True, timeout=60, env=environment
    )
    assert result.returncode == 0, result.stderr
    for command in ("db", "users", "sessions", "openid"):
        assert f"\n  {command} " in result.stdout
    assert "\n  dev" not in result.stdout


@pytest.mark.parametrize("command", [[sys.executable, "-m", "devtools"], ["microblog"]])
def test_the_development_servers_are_commands_of_devtools_in_a_clone(tmp_path, command):
    """`python -m devtools dev` in the clone, and `microblog dev` from anywhere, which hands
    over to it."""
    cwd = Path(__file__).resolve().parents[2]
    if command == ["microblog"]:
        command, cwd = [str(Path(sys.executable).with_name("microblog"))], tmp_path
    environment = os.environ | {"MICROBLOG_INSTANCE_PATH": str(tmp_path)}
    for name in ("dev", "dev-provider"):
        result = subprocess.run(
            [*command, name, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
            cwd=cwd,
        )
        assert result.returncode == 0, result.stderr
        assert "--auto-approve" in result.stdout


def test_without_node_the_dev_command_says_why_and_drops_the_dev_oidc_button(tmp_path, capsys):
    from contextlib import ExitStack

    from devtools.dev import dev_entries, start_dev_oidc
    from entrypoints.app import create_app

    dev, oidc = "http://127.0.0.1:5001", "http://127.0.0.1:9"
    app = create_app({"instance_path": str(tmp_path)}, added_providers=dev_entries(dev, oidc))
    services = app.extensions["container"]
    assert "dev-oidc" in [choice.key for choice in services.round_trips().choices()]
    with ExitStack() as stack:
        started = start_dev_oidc(stack, oidc, "http://127.0.0.1:5000", tmp_path / "no-such-dir")
        assert started is None
    assert (
        "Dev OIDC provider not started: its packages are not installed" in capsys.readouterr().out
    )
    app = create_app({"instance_path": str(tmp_path)}, added_providers=dev_entries(dev, started))
    services = app.extensions["container"]
    assert [choice.key for choice in services.round_trips().choices()] == ["openid", "dev"]


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=10_000), st.sampled_from(["m", "h", "d"]))
def test_since_a_time_ago(amount, unit):
    delta = timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    assert parse_since(f"{amount}{unit}", NOW) == NOW - delta


@given(st.datetimes(timezones=st.sampled_from([None, UTC])))
def test_since_a_date_or_time(moment):
    parsed = parse_since(moment.isoformat(), NOW)
    assert parsed.tzinfo is not None
    assert parsed == (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@given(st.text(max_size=40))
def test_since_anything_else_is_a_clear_refusal(text):
    try:
        parsed = parse_since(text, NOW)
    except click.BadParameter as refused:
        assert "neither a time ago" in refused.message
    else:
        assert parsed.tzinfo is not None
