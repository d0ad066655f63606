"""gunicorn's settings for `make serve` and the benchmarks:
`gunicorn --config python:entrypoints.gunicorn_config 'entrypoints.app:create_app()'`."""

import gc
import sys
from typing import Any

from entrypoints.logs import configure_logging
from entrypoints.settings import ConfigurationError, load_settings


def on_starting(server: Any) -> None:
    # Checked once in the master: bad settings stop it in one line, not a traceback per worker.
    configure_logging()
    try:
        load_settings()
    except ConfigurationError as error:
        print(f"microblog: bad configuration: {error}", file=sys.stderr)
        sys.exit(2)


def post_worker_init(worker: Any) -> None:
    configure_logging()
    # What start-up made (modules, the app, its compiled statements) lives as long as the
    # worker: frozen, it is no longer walked by every full garbage collection.
    gc.freeze()
