import os
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from entrypoints.app import create_app
from entrypoints.cli.commands import register_commands
from entrypoints.settings import ConfigurationError, configured_log_format, load_settings
from entrypoints.web.logs import configure_logging

# Development servers: run from a clone's devtools/, which the installed package never holds.
DEVTOOLS_COMMANDS = ("dev", "dev-provider")
CLONE = Path(__file__).resolve().parents[3]


def main() -> None:
    """`microblog ...`: Flask's CLI on the app, configured by MICROBLOG_* variables."""
    if sys.argv[1:2] and sys.argv[1] in DEVTOOLS_COMMANDS:
        run_devtools(sys.argv[1:])
    configure_logging(configured_log_format())
    try:
        load_settings()  # a bad setting stops every command here, in one line
    except ConfigurationError as error:
        click.echo(f"microblog: bad configuration: {error}", err=True)
        sys.exit(2)
    FlaskGroup(create_app=cli_app, help="Microblog login: administration and development.").main(
        prog_name="microblog"
    )


def cli_app() -> Flask:
    app = create_app()
    register_commands(app)
    return app


def run_devtools(arguments: list[str]) -> None:
    """`microblog dev ...` in a clone is `python -m devtools dev ...` there: handed over to a
    new Python, so that nothing in the package imports the development servers."""
    if not (CLONE / "devtools" / "__main__.py").is_file():
        click.echo(
            f"microblog: {arguments[0]} runs the development providers of a clone of the"
            " project (its devtools/ folder); this installation has none",
            err=True,
        )
        sys.exit(2)
    path = os.pathsep.join(filter(None, [str(CLONE), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "devtools", *arguments]
    os.execve(sys.executable, command, os.environ | {"PYTHONPATH": path})
