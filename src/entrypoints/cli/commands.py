import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from dependency_injector import providers
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from adapters.sql.migrate import upgrade_database
from domain.errors import DomainError
from entrypoints.dev_oidc import DEFAULT_DIRECTORY, DevOidcUnavailable, served_dev_oidc
from entrypoints.dev_provider import DevProviderSettings, create_dev_provider
from entrypoints.settings import DEVELOPMENT
from entrypoints.web.deps import container

F = TypeVar("F", bound=Callable[..., Any])

SINCE = re.compile(r"(\d+)\s*([mhd])")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}

db = AppGroup("db", help="The database schema.")
users = AppGroup("users", help="Accounts.")
sessions = AppGroup("sessions", help="Signed-in browsers.")
openid = AppGroup("openid", help="The OpenID relying party's store.")


def register_commands(app: Flask) -> None:
    for group in (db, users, sessions, openid):
        app.cli.add_command(group)
    app.cli.add_command(dev_provider)
    app.cli.add_command(dev)
    app.cli.add_command(audit)


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


@openid.command("cleanup")
@reporting_domain_errors
def openid_cleanup() -> None:
    """Delete expired OpenID nonces and associations."""
    store = container().openid_store()
    nonces, associations = store.cleanupNonces(), store.cleanupAssociations()
    click.echo(f"Deleted {nonces} nonces and {associations} associations.")


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


provider_options = [
    click.option("--auto-approve", is_flag=True, help="Approve every login at once."),
    click.option("--no-profile", is_flag=True, help="Send no nickname or email, like Steam."),
    click.option("--stateless", is_flag=True, help="Refuse associations."),
    click.option(
        "--post-answers", is_flag=True, help="Send every answer back by an auto-submitted POST."
    ),
]


def with_provider_options(command: F) -> F:
    for option in reversed(provider_options):
        command = option(command)
    return command


def dev_provider_settings(url: str, options: dict[str, bool]) -> DevProviderSettings:
    return DevProviderSettings(
        base_url=url,
        auto_approve=options["auto_approve"],
        send_profile=not options["no_profile"],
        refuse_associations=options["stateless"],
        post_answers=options["post_answers"],
    )


@click.command("dev-provider")
@click.option("--url", default="http://127.0.0.1:5001", show_default=True)
@with_provider_options
def dev_provider(url: str, **options: bool) -> None:
    """Serve the development OpenID provider alone. Never expose it: it vouches for anyone."""
    provider_app = create_dev_provider(dev_provider_settings(url, options))
    with served(provider_app, url):
        click.echo(f"Dev OpenID provider on {url} (Ctrl-C stops it)")
        _wait()


@click.command("dev")
@with_provider_options
@click.option(
    "--oidc-provider-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DIRECTORY,
    show_default=True,
    help="Where the dev OIDC provider is installed (npm ci).",
)
@reporting_domain_errors
def dev(oidc_provider_dir: Path, **options: bool) -> None:
    """Migrate the database, then serve the app and the dev providers beside it."""
    services = container()
    if services.config.env() != DEVELOPMENT:
        raise click.ClickException("`microblog dev` is for development only.")
    base_url, provider_url = services.config.base_url(), services.config.dev_provider_url()
    upgrade_database(services.engine())
    provider_app = create_dev_provider(dev_provider_settings(provider_url, options))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with ExitStack() as stack:
        stack.enter_context(served(provider_app, provider_url))
        oidc_url = _start_dev_oidc(stack, oidc_provider_dir)
        stack.enter_context(served(app, base_url))
        also = f", dev OIDC provider on {oidc_url}/" if oidc_url else ""
        click.echo(f"Microblog on {base_url}/ (dev OpenID provider on {provider_url}/{also})")
        buttons = '"Dev OpenID" or "Dev OIDC"' if oidc_url else '"Dev OpenID"'
        click.echo(f"Open it, press {buttons}, type any name and approve. Ctrl-C stops.")
        _wait()


def _start_dev_oidc(stack: ExitStack, directory: Path) -> str | None:
    """The dev OIDC provider's URL once started; without it, the site offers OpenID only."""
    services = container()
    url = services.config.dev_oidc_url()
    if not url:
        return None
    return_url = f"{services.config.base_url()}/login/return/dev-oidc"
    try:
        return str(stack.enter_context(served_dev_oidc(url, [return_url], directory)))
    except DevOidcUnavailable as why:
        click.echo(f"Dev OIDC provider not started: {why}. Serving with OpenID only.")
        offered = services.identity_providers()
        without = {key: provider for key, provider in offered.items() if key != "dev-oidc"}
        services.identity_providers.override(providers.Object(without))
        return None


class _PathOnlyLog(WSGIRequestHandler):
    """The development server's access log, without query strings: an OIDC code or an
    OpenID signature in a return URL has no place in a log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s %s" %s %s', self.command, path, self.request_version, code, size)


@contextmanager
def served(app: Flask, url: str) -> Iterator[BaseWSGIServer]:
    """Serves `app` at `url` (host and port) in a background thread until the block ends."""
    address = urlsplit(url)
    server = make_server(
        address.hostname or "127.0.0.1",
        address.port or 80,
        app,
        threaded=True,
        request_handler=_PathOnlyLog,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _wait() -> None:
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopped.")
