"""`microblog dev` (what `make run` does; in a clone the `microblog` command hands it to
`python -m devtools dev`): migrate, then serve the app with the development providers
beside it, offering them on its login page; `microblog dev-provider`: the dev OpenID
provider alone. Never expose them: they vouch for anyone.
The installed package knows nothing of them: their entries reach the app as
`create_app(added_providers=...)`."""

import os
import sys
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
from pydantic import TypeAdapter, ValidationError

from adapters.sql.migrate import upgrade_database
from devtools.dev_github import KEY as DEV_GITHUB_KEY
from devtools.dev_github import create_dev_github, dev_github_profile
from devtools.dev_oidc import (
    DEFAULT_DIRECTORY,
    DevOidcUnavailable,
    dev_oidc_profile,
    logout_uris,
    served_dev_oidc,
)
from devtools.dev_provider import DevProviderSettings, create_dev_provider, dev_provider_profile
from devtools.serving import served
from domain.errors import DomainError
from entrypoints.app import create_app
from entrypoints.protocols import HttpUrl
from entrypoints.settings import (
    DEVELOPMENT,
    ConfigurationError,
    configured_log_format,
    load_settings,
)
from entrypoints.web.logs import configure_logging

# Where the dev providers listen: MICROBLOG_<NAME>, empty to hide one.
DEV_URLS = {
    "MICROBLOG_DEV_PROVIDER_URL": "http://127.0.0.1:5001",
    "MICROBLOG_DEV_OIDC_URL": "http://127.0.0.1:5002",
    "MICROBLOG_DEV_GITHUB_URL": "http://127.0.0.1:5003",
}


def dev_urls(environ: Mapping[str, str]) -> tuple[str, str, str]:
    """The dev OpenID, OIDC and GitHub providers' URLs, "" for one turned off."""
    urls = []
    for variable, default in DEV_URLS.items():
        value = environ.get(variable, default).strip()
        if value:
            try:
                TypeAdapter(HttpUrl).validate_python(value)
            except ValidationError as error:
                message = error.errors()[0]["msg"].removeprefix("Value error, ")
                raise ConfigurationError(f"environment variable {variable}: {message}") from None
        urls.append(value.rstrip("/"))
    return urls[0], urls[1], urls[2]


def dev_entries(
    provider_url: str, oidc_url: str | None, github_url: str = ""
) -> list[dict[str, Any]]:
    """The `[[providers]]` entries of the dev providers that run; Logout signs out of Dev
    OIDC too, so that a newcomer sees both ways logout reaches a provider."""
    entries = [dev_provider_profile(provider_url)] if provider_url else []
    oidc = dev_oidc_profile(oidc_url) | {"sign_out_at_provider": True} if oidc_url else None
    entries += [oidc] if oidc else []
    return entries + ([dev_github_profile(github_url)] if github_url else [])


def start_dev_oidc(stack: ExitStack, url: str, base_url: str, directory: Path) -> str | None:
    """The dev OIDC provider's URL once started; None when it cannot run (the site then
    offers the other dev providers)."""
    if not url:
        return None
    return_url = f"{base_url}/login/return/dev-oidc"
    try:
        served = served_dev_oidc(url, [return_url], directory, logout_uris(base_url, "dev-oidc"))
        return str(stack.enter_context(served))
    except DevOidcUnavailable as why:
        click.echo(f"Dev OIDC provider not started: {why}. Serving without it.")
        return None


provider_options = [
    click.option("--auto-approve", is_flag=True, help="Approve every login at once."),
    click.option("--no-profile", is_flag=True, help="Send no nickname or email, like Steam."),
    click.option("--stateless", is_flag=True, help="Refuse associations."),
    click.option(
        "--post-answers", is_flag=True, help="Send every answer back by an auto-submitted POST."
    ),
]


def with_provider_options(command: Any) -> Any:
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


@click.group(help="Development servers: never expose them, they vouch for anyone.")
def cli() -> None:
    configure_logging(configured_log_format())


@cli.command("dev-provider")
@click.option("--url", default=DEV_URLS["MICROBLOG_DEV_PROVIDER_URL"], show_default=True)
@with_provider_options
def dev_provider(url: str, **options: bool) -> None:
    """Serve the development OpenID provider alone. Never expose it: it vouches for anyone."""
    provider_app = create_dev_provider(dev_provider_settings(url, options))
    with served(provider_app, url):
        click.echo(f"Dev OpenID provider on {url} (Ctrl-C stops it)")
        _wait()


@cli.command("dev")
@with_provider_options
@click.option(
    "--oidc-provider-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DIRECTORY,
    show_default=True,
    help="Where the dev OIDC provider is installed (npm ci).",
)
def dev(oidc_provider_dir: Path, **options: bool) -> None:
    """Migrate the database, then serve the app and the dev providers beside it."""
    try:
        provider_url, oidc_url, github_url = dev_urls(os.environ)
        settings = load_settings()
    except ConfigurationError as error:
        click.echo(f"microblog: bad configuration: {error}", err=True)
        sys.exit(2)
    if settings["env"] != DEVELOPMENT:
        raise click.ClickException("`python -m devtools dev` is for development only.")
    base_url = settings["base_url"]
    with ExitStack() as stack:
        if provider_url:
            provider_app = create_dev_provider(dev_provider_settings(provider_url, options))
            stack.enter_context(served(provider_app, provider_url))
        started = start_dev_oidc(stack, oidc_url, base_url, oidc_provider_dir)
        if github_url:
            return_url = f"{base_url}/login/return/{DEV_GITHUB_KEY}"
            stack.enter_context(served(create_dev_github(github_url, [return_url]), github_url))
        try:
            app = create_app(added_providers=dev_entries(provider_url, started, github_url))
            upgrade_database(app.extensions["container"].engine())
        except ConfigurationError as error:
            click.echo(f"microblog: bad configuration: {error}", err=True)
            sys.exit(2)
        except DomainError as error:
            raise click.ClickException(error.message) from error
        stack.enter_context(served(app, base_url))
        also = f", dev OIDC provider on {started}/" if started else ""
        also += f", dev GitHub on {github_url}/" if github_url else ""
        click.echo(f"Microblog on {base_url}/ (dev OpenID provider on {provider_url}/{also})")
        named = [
            "Dev OpenID",
            *(["Dev OIDC"] if started else []),
            *(["Dev GitHub"] if github_url else []),
        ]
        buttons = " or ".join(f'"{name}"' for name in named)
        click.echo(f"Open it, press {buttons}, type any name and approve. Ctrl-C stops.")
        _wait()


def _wait() -> None:
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopped.")
