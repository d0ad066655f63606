"""gunicorn's settings for `make serve` and the benchmarks:
`gunicorn --config python:entrypoints.cli.gunicorn_config 'entrypoints.app:create_app()'`."""

import gc
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from entrypoints.settings import ConfigurationError, configured_log_format, load_settings
from entrypoints.web.logs import configure_logging


def on_starting(server: Any) -> None:
    # Checked once in the master: bad settings stop it in one line, not a traceback per worker.
    configure_logging(configured_log_format())
    _share_metrics_between_workers()
    try:
        load_settings()
    except ConfigurationError as error:
        print(f"microblog: bad configuration: {error}", file=sys.stderr)
        sys.exit(2)


def post_worker_init(worker: Any) -> None:
    configure_logging(configured_log_format())
    # What start-up made (modules, the app, its compiled statements) lives as long as the
    # worker: frozen, it is no longer walked by every full garbage collection.
    gc.freeze()


def _share_metrics_between_workers() -> None:
    """Workers write their metrics to files in one folder, which /metrics adds up; set before
    any worker imports prometheus_client, emptied of an earlier run's files."""
    folder = os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="microblog-metrics-")
    )
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
