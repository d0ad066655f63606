import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server

from tests.postgres_server import free_port


@contextmanager
def serving(make_app: Callable[[str], Flask]) -> Iterator[str]:
    """Serves the app `make_app(base_url)` on a free port of 127.0.0.1 in a thread."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, make_app(base_url), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=5)
