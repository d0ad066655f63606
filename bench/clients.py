"""The load generator's login clients: separate processes driving browsers (requests keeps
the cookies) through whole logins as people do them, so that the server's CPU can be divided
by logins. A login: open /index, be sent to the login page, submit it (begin, the provider
approving at once, the return), land on /index, log out and follow where that leads.

With `own_addresses`, each person signs in from a browser of their own at an address of their
own on the loopback network (on Linux all of 127.0.0.0/8 is this machine's), as people do:
the site's rate limits, which count per address, then stay on as `make serve` has them."""

import hashlib
import re
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import requests
from requests.adapters import HTTPAdapter

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TIMEOUT = 30


class Browser:
    """A browser that people sign in and out of: one person's own, or shared in turn.
    `site_kind`: "microblog" (this project: a provider button plus a typed identifier, logout
    by POST with a CSRF token) or "tutorial" (the tutorial's app: an `openid` field, logout by
    a GET link)."""

    def __init__(
        self,
        site: str,
        op: str,
        provider: str,
        site_kind: str = "microblog",
        address: str | None = None,
    ) -> None:
        self._site, self._op, self._provider, self._kind = site, op, provider, site_kind
        self.http = requests.Session()
        if address is not None:
            for scheme in ("http://", "https://"):
                self.http.mount(scheme, _FromAddress(address))

    def log_in(self, name: str) -> requests.Response:
        """From /index to the index page of a signed-in `name`."""
        page = self.http.get(f"{self._site}/index", timeout=TIMEOUT)
        identifier = f"{self._op}/id/{name}"
        form = {"csrf_token": CSRF_FIELD.search(page.text).group(1)}
        if self._kind == "tutorial":
            form["openid"] = identifier
        else:
            form |= {"provider": self._provider, "identifier": identifier}
        target = page.url if self._kind == "tutorial" else f"{self._site}/login"
        index = self.http.post(target, data=form, timeout=TIMEOUT)
        if index.url != f"{self._site}/index" or "<h1>Hi, " not in index.text:
            raise RuntimeError(f"login of {name} failed: {index.status_code} {index.url}")
        return index

    def log_out(self, index: requests.Response) -> None:
        if self._kind == "tutorial":
            page = self.http.get(f"{self._site}/logout", timeout=TIMEOUT)
        else:
            token = CSRF_FIELD.search(index.text).group(1)
            page = self.http.post(
                f"{self._site}/logout", data={"csrf_token": token}, timeout=TIMEOUT
            )
        page.raise_for_status()


class _FromAddress(HTTPAdapter):
    """requests' adapter whose connections leave from `address`."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self._address, 0), **kwargs)


def person_address(name: str) -> str:
    """A loopback address of `name`'s own (two names share one by a chance of one in 16 million)."""
    digest = hashlib.sha256(name.encode()).digest()
    return f"127.{digest[0]}.{digest[1]}.{digest[2] % 254 + 1}"


def _log_in_many(
    site: str, op: str, names: list[str], provider: str, site_kind: str, own_addresses: bool
) -> int:
    shared = None if own_addresses else Browser(site, op, provider, site_kind)
    for name in names:
        browser = shared or Browser(site, op, provider, site_kind, person_address(name))
        browser.log_out(browser.log_in(name))
    return len(names)


def run_logins(
    site: str,
    op: str,
    names: list[str],
    provider: str,
    processes: int,
    site_kind: str = "microblog",
    own_addresses: bool = False,
) -> float:
    """Logs every name in and out, `processes` at a time; returns the wall time."""
    chunks = [names[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        started = time.perf_counter()
        batches = [
            pool.submit(_log_in_many, site, op, chunk, provider, site_kind, own_addresses)
            for chunk in chunks
        ]
        done = sum(batch.result() for batch in batches)
        wall = time.perf_counter() - started
    assert done == len(names)
    return wall


def session_cookies(site: str, op: str, name: str, provider: str, site_kind="microblog") -> str:
    """Signs `name` in; the Cookie header a page benchmark can replay."""
    browser = Browser(site, op, provider, site_kind)
    browser.log_in(name)
    return "; ".join(f"{key}={value}" for key, value in browser.http.cookies.items())
