import contextvars
import ipaddress
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from openid import fetchers
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class ForbiddenAddress(fetchers.HTTPFetchingError):  # type: ignore[misc]
    """The URL leads to an address the site may not connect to (loopback, private...)."""


class ResponseTooLarge(fetchers.HTTPFetchingError):  # type: ignore[misc]
    pass


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    max_response_bytes: int = 512 * 1024
    max_redirects: int = 5
    # Internal addresses reachable anyway (the dev provider on 127.0.0.1, say).
    allowed_networks: tuple[IpNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def allowing(cls, networks: Iterable[str], **options: Any) -> "FetchPolicy":
        return cls(allowed_networks=tuple(ipaddress.ip_network(n) for n in networks), **options)

    def permits(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allowed_networks):
            return True
        return ip.is_global and not ip.is_multicast


def resolve_permitted(host: str, port: int, policy: FetchPolicy) -> list[tuple[Any, ...]]:
    """Addresses of `host` the policy allows; ForbiddenAddress when it allows none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise fetchers.HTTPFetchingError(f"cannot resolve {host}: {error}") from error
    permitted = [info for info in infos if policy.permits(str(info[4][0]))]
    if not permitted:
        raise ForbiddenAddress(f"{host} resolves only to addresses this site may not reach")
    return permitted


def _guarded_connection(base: type[HTTPConnection], policy: FetchPolicy) -> type[HTTPConnection]:
    class GuardedConnection(base):  # type: ignore[valid-type,misc]
        """Connects only to an address it has checked itself: no DNS rebinding in between."""

        fetch_policy = policy

        def _new_conn(self) -> socket.socket:
            last_error: OSError | None = None
            for family, kind, proto, _, address in resolve_permitted(
                self._dns_host, self.port, self.fetch_policy
            ):
                sock = socket.socket(family, kind, proto)
                sock.settimeout(self.timeout)
                try:
                    sock.connect(address)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    return sock
                except OSError as error:
                    sock.close()
                    last_error = error
            raise urllib3.exceptions.NewConnectionError(self, f"cannot connect: {last_error}")

    return GuardedConnection


class SafeFetcher(fetchers.HTTPFetcher):  # type: ignore[misc]
    """python3-openid's HTTP client: timeouts, a size cap, checked redirects, no internal hosts."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._pools = urllib3.PoolManager(num_pools=20, retries=False)
        for scheme, pool_class, connection_class in (
            ("http", HTTPConnectionPool, HTTPConnection),
            ("https", HTTPSConnectionPool, HTTPSConnection),
        ):
            guarded = _guarded_connection(connection_class, self.policy)
            self._pools.pool_classes_by_scheme[scheme] = type(
                f"Guarded{pool_class.__name__}", (pool_class,), {"ConnectionCls": guarded}
            )

    def fetch(
        self, url: str, body: str | bytes | None = None, headers: dict[str, str] | None = None
    ) -> fetchers.HTTPResponse:
        method = "POST" if body is not None else "GET"
        deadline = time.monotonic() + self.policy.connect_timeout + self.policy.read_timeout
        for _ in range(self.policy.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise fetchers.HTTPFetchingError(f"not an http(s) URL: {url!r}")
            response = self._request(method, url, body, headers)
            location = response.headers.get("location")
            if response.status in REDIRECT_STATUSES and location:
                response.release_conn()
                url = urljoin(url, location)
                if response.status in (301, 302, 303):
                    method, body = "GET", None
                continue
            return self._openid_response(url, response, deadline)
        raise fetchers.HTTPFetchingError(f"more than {self.policy.max_redirects} redirects")

    def _request(
        self, method: str, url: str, body: str | bytes | None, headers: dict[str, str] | None
    ) -> urllib3.BaseHTTPResponse:
        timeout = urllib3.Timeout(
            connect=self.policy.connect_timeout, read=self.policy.read_timeout
        )
        sent_headers = {"User-Agent": "microblog-openid", **(headers or {})}
        if body is not None:
            # python3-openid posts url-encoded forms and counts on the client to say so.
            sent_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
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
            raise fetchers.HTTPFetchingError(str(error)) from error

    def _openid_response(
        self, url: str, response: urllib3.BaseHTTPResponse, deadline: float
    ) -> fetchers.HTTPResponse:
        try:
            raw = b"".join(self._capped_chunks(response, deadline))
        except urllib3.exceptions.HTTPError as error:
            raise fetchers.HTTPFetchingError(str(error)) from error
        finally:
            response.release_conn()
        headers = {name.lower(): value for name, value in response.headers.items()}
        return fetchers.HTTPResponse(url, response.status, headers, _decode(raw, headers))

    def _capped_chunks(
        self, response: urllib3.BaseHTTPResponse, deadline: float
    ) -> Iterator[bytes]:
        received = 0
        for chunk in response.stream(16 * 1024):
            received += len(chunk)
            if received > self.policy.max_response_bytes:
                raise ResponseTooLarge(f"more than {self.policy.max_response_bytes} bytes")
            if time.monotonic() > deadline:
                raise fetchers.HTTPFetchingError("the provider answered too slowly")
            yield chunk


def _decode(raw: bytes, headers: dict[str, str]) -> str:
    content_type = headers.get("content-type", "")
    charset = "utf-8"
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("latin-1")


_current_fetcher: contextvars.ContextVar[fetchers.HTTPFetcher | None] = contextvars.ContextVar(
    "openid_fetcher", default=None
)


class _DispatchingFetcher(fetchers.HTTPFetcher):  # type: ignore[misc]
    """python3-openid fetches through one process-wide fetcher; this one hands each call to
    the fetcher of the relying party making it, and refuses calls made outside one."""

    def fetch(self, url: str, body: Any = None, headers: Any = None) -> fetchers.HTTPResponse:
        fetcher = _current_fetcher.get()
        if fetcher is None:
            raise fetchers.HTTPFetchingError("no fetcher chosen for this OpenID call")
        return fetcher.fetch(url, body, headers)


@contextmanager
def fetching_with(fetcher: fetchers.HTTPFetcher) -> Iterator[None]:
    if not isinstance(fetchers.getDefaultFetcher(), _DispatchingFetcher):
        fetchers.setDefaultFetcher(_DispatchingFetcher(), wrap_exceptions=True)
    token = _current_fetcher.set(fetcher)
    try:
        yield
    finally:
        _current_fetcher.reset(token)
