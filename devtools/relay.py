"""A reverse proxy put in front of a provider by the tests and the bench: it counts the
requests a site's server makes to the provider, and the connections they come on, and can
make each of them wait, as a provider across a network does.

Browsers (a User-Agent starting with `browser_agent`: the tests' and the bench's requests
clients) pass through neither counted nor delayed: only the server's round trips are
measured. The provider must call itself by the relay's URL (its `base_url` or issuer), so
that the URLs it hands out lead through the relay too.
"""

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import urllib3

from devtools.servers import free_port

# Hop-by-hop headers (RFC 9110 7.6.1) and the length, which the relay sets itself.
NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
     "proxy-connection", "content-length"}
)  # fmt: skip


class Relay:
    """What the relay saw: `requests` ("GET /path" -> count) and `connections` of the
    site's server. Each of its requests waits `delay` seconds, and the first on a connection
    as long again, as a TCP handshake across the same network would."""

    def __init__(self, target: str, delay: float = 0.0, browser_agent: str = "python-requests/"):
        self.target = target.rstrip("/")
        self.delay = delay
        self.browser_agent = browser_agent
        self.requests: Counter[str] = Counter()
        self.connections = 0
        self._lock = threading.Lock()
        self._upstream = urllib3.PoolManager(maxsize=16, retries=False)
        self._open: set[socket.socket] = set()

    def drop_connections(self) -> None:
        """Closes every connection clients hold open, as a provider's idle timeout does."""
        with self._lock:
            for connection in self._open:
                with suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.connections = 0

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def counted(self, method: str, path: str, agent: str, first_on_connection: bool) -> bool:
        if agent.startswith(self.browser_agent):
            return False
        with self._lock:
            self.requests[f"{method} {path.split('?', 1)[0]}"] += 1
            self.connections += first_on_connection
        return True

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Any:
        return self._upstream.request(
            method,
            self.target + path,
            body=body,
            headers=headers,
            redirect=False,
            preload_content=True,
            timeout=urllib3.Timeout(connect=5, read=30),
        )


def _handler(relay: Relay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: connections are the client's to reuse
        seen_a_request = False

        def setup(self) -> None:
            super().setup()
            with relay._lock:
                relay._open.add(self.connection)

        def finish(self) -> None:
            with relay._lock:
                relay._open.discard(self.connection)
            super().finish()

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            first = not self.seen_a_request
            self.seen_a_request = True
            agent = self.headers.get("User-Agent", "")
            if relay.counted(self.command, self.path, agent, first) and relay.delay:
                time.sleep(relay.delay * (2 if first else 1))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
            try:
                answer = relay.forward(self.command, self.path, headers, body)
            except urllib3.exceptions.HTTPError:  # the provider is not up (yet)
                self.send_error(502)
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                if name.lower() not in NOT_FORWARDED:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.data)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _relay

        def log_message(self, format: str, *args: Any) -> None:
            pass  # query strings carry codes and signatures: nothing is logged

    return Handler


@contextmanager
def relaying(relay: Relay, url: str | None = None) -> Iterator[str]:
    """Serves `relay` at `url` (a free port of 127.0.0.1 by default) until the block ends;
    its URL."""
    url = url or f"http://127.0.0.1:{free_port()}"
    address = urlsplit(url)
    server = ThreadingHTTPServer((address.hostname or "127.0.0.1", address.port or 80),
                                 _handler(relay))  # fmt: skip
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
