"""The one HTTP client of every provider adapter: timeouts, an overall deadline, a size cap,
redirects followed by hand, and no connection to an address the policy does not permit."""

import contextvars
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from adapters.http.addresses import IpNetwork, is_special, reached_address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class HttpError(Exception):
    """The request could not be made or answered (unreachable, too slow, too large...)."""


class ForbiddenAddress(HttpError):
    """The URL leads to an address the site may not connect to (loopback, private...)."""


class ResponseTooLarge(HttpError):
    pass


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    # However slowly the bytes come, a request (redirects included) ends by then.
    deadline: float = 10.0
    max_response_bytes: int = 512 * 1024
    max_redirects: int = 5
    # Internal addresses reachable anyway (the dev providers on 127.0.0.1, say).
    allowed_networks: tuple[IpNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def allowing(cls, networks: Iterable[str], **options: Any) -> "FetchPolicy":
        return cls(allowed_networks=tuple(ipaddress.ip_network(n) for n in networks), **options)

    def permits(self, address: str) -> bool:
        """Whether the site may connect to `address`: not when it, or the IPv4 address it
        carries, is in a special-purpose range (adapters.http.addresses), unless the
        operator's allowed networks name either."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        reached = reached_address(ip)
        if any(a in network for a in (ip, reached) for network in self.allowed_networks):
            return True
        return not is_special(reached)


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def text(self) -> str:
        return _decode(self.body, self.headers.get("content-type", ""))


def resolve_permitted(host: str, port: int, policy: FetchPolicy) -> list[tuple[Any, ...]]:
    """Addresses of `host` the policy allows; ForbiddenAddress when it allows none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise HttpError(f"cannot resolve {host}: {error}") from error
    permitted = [info for info in infos if policy.permits(str(info[4][0]))]
    if not permitted:
        raise ForbiddenAddress(f"{host} resolves only to addresses this site may not reach")
    return permitted


# When the request being made must end (time.monotonic()); every socket read checks it.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def _shorten_to_deadline(sock: socket.socket) -> None:
    deadline = _deadline.get()
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the provider answered too slowly")
    timeout = sock.gettimeout()
    sock.settimeout(remaining if timeout is None else min(timeout, remaining))


class _ReadsWithinDeadline(socket.socket):
    """Every read waits no longer than the request's deadline allows, so a provider dripping
    one byte at a time cannot outlast it. Mixed into the plain and the TLS socket."""

    def recv(self, *args: Any) -> bytes:
        _shorten_to_deadline(self)
        return super().recv(*args)

    def recv_into(self, *args: Any) -> int:
        _shorten_to_deadline(self)
        return super().recv_into(*args)


class _DeadlineSocket(_ReadsWithinDeadline):
    pass


class _DeadlineSSLSocket(_ReadsWithinDeadline, ssl.SSLSocket):
    pass


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.sslsocket_class = _DeadlineSSLSocket
    return context


def _guarded_connection(base: type[HTTPConnection], policy: FetchPolicy) -> type[HTTPConnection]:
    class GuardedConnection(base):  # type: ignore[valid-type,misc]
        """Connects only to an address it has checked itself: no DNS rebinding in between."""

        fetch_policy = policy

        def _new_conn(self) -> socket.socket:
            last_error: OSError | None = None
            for family, kind, proto, _, address in resolve_permitted(
                self._dns_host, self.port, self.fetch_policy
            ):
                sock = _DeadlineSocket(family, kind, proto)
                sock.settimeout(self.timeout)
                _shorten_to_deadline(sock)
                try:
                    sock.connect(address)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    return sock
                except OSError as error:
                    sock.close()
                    last_error = error
            raise urllib3.exceptions.NewConnectionError(self, f"cannot connect: {last_error}")

    return GuardedConnection


class SafeHttpClient:
    def __init__(self, policy: FetchPolicy | None = None, user_agent: str = "microblog") -> None:
        self.policy = policy or FetchPolicy()
        self._user_agent = user_agent
        self._pools = urllib3.PoolManager(num_pools=20, retries=False, ssl_context=_tls_context())
        # urllib3 hands every PoolManager its one module-wide dict: changed in place, it would
        # send every other client of the process (requests included) through this policy.
        self._pools.pool_classes_by_scheme = {}
        for scheme, pool_class, connection_class in (
            ("http", HTTPConnectionPool, HTTPConnection),
            ("https", HTTPSConnectionPool, HTTPSConnection),
        ):
            guarded = _guarded_connection(connection_class, self.policy)
            self._pools.pool_classes_by_scheme[scheme] = type(
                f"Guarded{pool_class.__name__}", (pool_class,), {"ConnectionCls": guarded}
            )

    def request(
        self,
        method: str,
        url: str,
        *,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        token = _deadline.set(time.monotonic() + self.policy.deadline)
        try:
            return self._follow(method, url, body, headers)
        finally:
            _deadline.reset(token)

    def _follow(
        self,
        method: str,
        url: str,
        body: str | bytes | None,
        headers: Mapping[str, str] | None,
    ) -> HttpResponse:
        """The request, and its redirects by hand: each hop's address is checked too."""
        for _ in range(self.policy.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise HttpError(f"not an http(s) URL: {url!r}")
            response = self._send(method, url, body, headers)
            content = self._read_to_the_end(response)
            location = response.headers.get("location")
            if response.status in REDIRECT_STATUSES and location:
                target = urljoin(url, location)
                if response.status in (301, 302, 303):
                    method, body = "GET", None
                if _origin(target) != _origin(url):
                    headers, body = _leaving_for_another_origin(headers, body)
                url = target
                continue
            received = {name.lower(): value for name, value in response.headers.items()}
            return HttpResponse(url, response.status, received, content)
        raise HttpError(f"more than {self.policy.max_redirects} redirects")

    def _send(
        self,
        method: str,
        url: str,
        body: str | bytes | None,
        headers: Mapping[str, str] | None,
    ) -> urllib3.BaseHTTPResponse:
        timeout = urllib3.Timeout(
            connect=self.policy.connect_timeout, read=self.policy.read_timeout
        )
        sent_headers = {"User-Agent": self._user_agent, **(headers or {})}
        try:
            return self._pools.request(
                method,
                url,
                body=body,
                headers=sent_headers,
                redirect=False,
                preload_content=False,
                timeout=timeout,
            )
        except urllib3.exceptions.HTTPError as error:
            raise HttpError(str(error)) from error

    def _read_to_the_end(self, response: urllib3.BaseHTTPResponse) -> bytes:
        """The body, a redirect's too: only a connection read to the end of its answer can
        carry the next request. One that is not (too large, too slow) is closed."""
        try:
            body = b"".join(self._capped_chunks(response))
        except urllib3.exceptions.HTTPError as error:
            response.close()
            raise HttpError(str(error)) from error
        except BaseException:
            response.close()
            raise
        finally:
            response.release_conn()
        return body

    def _capped_chunks(self, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        received = 0
        for chunk in response.stream(16 * 1024):
            received += len(chunk)
            if received > self.policy.max_response_bytes:
                raise ResponseTooLarge(f"more than {self.policy.max_response_bytes} bytes")
            yield chunk


def _decode(raw: bytes, content_type: str) -> str:
    charset = "utf-8"
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("latin-1")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _leaving_for_another_origin(
    headers: Mapping[str, str] | None, body: str | bytes | None
) -> tuple[dict[str, str], None]:
    """What a request may take to another origin it is redirected to: not its credentials
    (a client secret in the body, a token in Authorization), as browsers and requests do."""
    if body is not None:
        raise HttpError("a redirect would send the request's body to another site")
    return {n: v for n, v in (headers or {}).items() if n.lower() != "authorization"}, None
