"""gunicorn's settings for `make serve` and the benchmarks:
`gunicorn --config python:entrypoints.gunicorn_config 'entrypoints.app:create_app()'`."""

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    # What start-up made (modules, the app, its compiled statements) lives as long as the
    # worker: frozen, it is no longer walked by every full garbage collection.
    gc.freeze()
