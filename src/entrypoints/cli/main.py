import sys

import click
from flask.cli import FlaskGroup

from entrypoints.app import create_app
from entrypoints.settings import ConfigurationError, load_settings
from entrypoints.web.logs import configure_logging


def main() -> None:
    """`microblog ...`: Flask's CLI on the app, configured by MICROBLOG_* variables."""
    configure_logging()
    try:
        load_settings()  # a bad setting stops every command here, in one line
    except ConfigurationError as error:
        click.echo(f"microblog: bad configuration: {error}", err=True)
        sys.exit(2)
    FlaskGroup(create_app=create_app, help="Microblog login: administration and development.").main(
        prog_name="microblog"
    )
