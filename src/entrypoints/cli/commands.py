import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from adapters.protocols import Cleanup, ProtocolAdapter
from adapters.sql.migrate import upgrade_database
from domain.errors import DomainError
from entrypoints.web.deps import container

F = TypeVar("F", bound=Callable[..., Any])

SINCE = re.compile(r"(\d+)\s*([mhd])")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}

db = AppGroup("db", help="The database schema.")
users = AppGroup("users", help="Accounts.")
sessions = AppGroup("sessions", help="Signed-in browsers.")


def register_commands(app: Flask) -> None:
    """The `microblog` commands, on the app `create_app` made (and its protocols)."""
    for group in (db, users, sessions):
        app.cli.add_command(group)
    app.cli.add_command(audit)
    protocols: Mapping[str, ProtocolAdapter] = app.extensions["container"].protocols()
    for name, protocol in protocols.items():
        if protocol.cleanup is not None:
            app.cli.add_command(cleanup_group(name, protocol.cleanup))


def reporting_domain_errors(command: F) -> F:
    """A domain error ends the command with its message and exit status 1, not a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DomainError as error:
            raise click.ClickException(error.message) from error

    return run  # type: ignore[return-value]


@db.command("upgrade")
@reporting_domain_errors
def db_upgrade() -> None:
    """Create or migrate the schema to the latest revision."""
    upgrade_database(container().engine())
    click.echo("Database is up to date.")


@users.command("list")
@reporting_domain_errors
def users_list() -> None:
    """Every account: id, nickname, email, status, creation time."""
    for user in container().administration().users():
        status = "active" if user.active else "disabled"
        created = user.created_at.isoformat(timespec="seconds")
        click.echo(f"{user.id}\t{user.nickname}\t{user.email or '-'}\t{status}\t{created}")


@users.command("disable")
@click.argument("nickname")
@reporting_domain_errors
def users_disable(nickname: str) -> None:
    """Refuse the user's logins and end all their sessions."""
    user = container().administration().disable(nickname)
    click.echo(f"Disabled {user.nickname} and ended their sessions.")


@users.command("enable")
@click.argument("nickname")
@reporting_domain_errors
def users_enable(nickname: str) -> None:
    """Let a disabled user log in again."""
    user = container().administration().enable(nickname)
    click.echo(f"Enabled {user.nickname}.")


@sessions.command("revoke")
@click.argument("nickname")
@reporting_domain_errors
def sessions_revoke(nickname: str) -> None:
    """Sign the user out everywhere (remember-me cookies included)."""
    user, ended = container().administration().revoke_sessions(nickname)
    click.echo(f"Ended {ended} sessions of {user.nickname}.")


@sessions.command("cleanup")
@reporting_domain_errors
def sessions_cleanup() -> None:
    """Delete expired sessions, abandoned logins and unclaimed provider answers."""
    done = container().administration().clean_up()
    click.echo(
        f"Deleted {done.sessions} expired sessions, {done.sign_ins} abandoned logins,"
        f" {done.parked_answers} unclaimed provider answers and {done.waiting_identities}"
        " waiting logins."
    )


def cleanup_group(name: str, cleanup: Cleanup) -> AppGroup:
    """`microblog <protocol> cleanup`, for a protocol that keeps state of its own."""
    group = AppGroup(name, help=cleanup.help)

    @group.command("cleanup", help="Delete what has expired.")
    @reporting_domain_errors
    def run_cleanup() -> None:
        click.echo(cleanup.run(container().adapter_parts()))

    return group


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: "90m", "2h", "7d" ago, or an ISO date or time (UTC unless it says)."""
    relative = SINCE.fullmatch(text.strip())
    if relative:
        return now - timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a time ago (90m, 2h, 7d) nor a date (2026-11-22T10:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("audit")
@with_appcontext
@click.option("--user", "nickname", help="Only this user's events.")
@click.option("--since", help="Only events since then: 90m, 2h, 7d, or an ISO date or time.")
@reporting_domain_errors
def audit(nickname: str | None, since: str | None) -> None:
    """Audit events, oldest first: time, event, user, provider, address, browser, detail."""
    services = container()
    moment = parse_since(since, services.clock().now()) if since else None
    administration = services.administration()
    names = {user.id: user.nickname for user in administration.users()}
    for event in administration.audit(nickname=nickname, since=moment):
        user = f"{names.get(event.user_id, '?')}({event.user_id})" if event.user_id else "-"
        fields = [
            event.at.isoformat(timespec="seconds"),
            event.kind,
            user,
            event.provider or "-",
            event.client_address or "-",
            event.user_agent or "-",
            event.detail or "",
        ]
        click.echo("\t".join(fields).rstrip())
