"""The floor under any page on this machine: what the same gunicorn command serves when the
app does (almost) nothing. `wsgi` is a bare WSGI callable; `flask_hello` is Flask returning a
fixed page. Both answer /index with as many bytes as the signed-in index page."""

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

PAGE = b"<!doctype html>" + b"x" * 1000


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))])
    return [PAGE]


flask_hello = Flask(__name__)


@flask_hello.get("/index")
def index() -> bytes:
    return PAGE
