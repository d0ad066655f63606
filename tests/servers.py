from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask

from devtools.servers import free_port
from devtools.serving import served


@contextmanager
def serving(make_app: Callable[[str], Flask], host: str = "127.0.0.1") -> Iterator[str]:
    """Serves the app `make_app(base_url)` on a free port of `host` (a loopback name) in a
    thread. "localhost" is another site than "127.0.0.1" for a browser's SameSite rules."""
    base_url = f"http://{host}:{free_port()}"
    with served(make_app(base_url), base_url):
        yield base_url
