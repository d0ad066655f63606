from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask

from entrypoints.commands import served
from tests.postgres_server import free_port


@contextmanager
def serving(make_app: Callable[[str], Flask]) -> Iterator[str]:
    """Serves the app `make_app(base_url)` on a free port of 127.0.0.1 in a thread."""
    base_url = f"http://127.0.0.1:{free_port()}"
    with served(make_app(base_url), base_url):
        yield base_url
