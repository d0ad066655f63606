from flask.cli import FlaskGroup

from entrypoints.app import create_app


def main() -> None:
    """`microblog ...`: Flask's CLI on the app, configured by MICROBLOG_* variables."""
    FlaskGroup(create_app=create_app, help="Microblog login: administration and development.").main(
        prog_name="microblog"
    )
