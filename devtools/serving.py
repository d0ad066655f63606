"""Serving a WSGI app in a background thread: the dev providers, the tests and the bench."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _PathOnlyLog(WSGIRequestHandler):
    """The development server's access log, without query strings: an OIDC code or an
    OpenID signature in a return URL has no place in a log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s %s" %s %s', self.command, path, self.request_version, code, size)


@contextmanager
def served(app: Flask, url: str) -> Iterator[BaseWSGIServer]:
    """Serves `app` at `url` (host and port) in a background thread until the block ends."""
    address = urlsplit(url)
    server = make_server(
        address.hostname or "127.0.0.1",
        address.port or 80,
        app,
        threaded=True,
        request_handler=_PathOnlyLog,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
