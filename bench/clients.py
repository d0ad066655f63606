"""The load generator's login clients: separate processes, each one a browser (requests keeps
the cookies) doing whole logins, so that the server's CPU can be divided by logins."""

import re
import time
from concurrent.futures import ProcessPoolExecutor

import requests

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class SharedBrowser:
    """A browser that people sign in and out of in turn: the login page it lands on after one
    person logs out is the page the next one signs in from, so each login costs one login page.
    """

    def __init__(self, site: str, op: str, provider: str) -> None:
        self._site, self._op, self._provider = site, op, provider
        self.http = requests.Session()
        self._login_page: requests.Response | None = None

    def log_in(self, name: str) -> requests.Response:
        """Begin, provider (auto-approving), return; the index page it lands on."""
        page = self._login_page or self.http.get(f"{self._site}/login", timeout=30)
        form = {
            "csrf_token": CSRF_FIELD.search(page.text).group(1),
            "provider": self._provider,
            "identifier": f"{self._op}/id/{name}",
        }
        index = self.http.post(f"{self._site}/login", data=form, timeout=30)
        if index.url != f"{self._site}/index" or "<h1>Hi, " not in index.text:
            raise RuntimeError(f"login of {name} failed: {index.status_code} {index.url}")
        return index

    def log_out(self, index: requests.Response) -> None:
        token = CSRF_FIELD.search(index.text).group(1)
        page = self.http.post(f"{self._site}/logout", data={"csrf_token": token}, timeout=30)
        page.raise_for_status()
        self._login_page = page


def _log_in_many(site: str, op: str, names: list[str], provider: str) -> int:
    browser = SharedBrowser(site, op, provider)
    for name in names:
        browser.log_out(browser.log_in(name))
    return len(names)


def run_logins(site: str, op: str, names: list[str], provider: str, processes: int) -> float:
    """Logs every name in and out, `processes` at a time; returns the wall time."""
    chunks = [names[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        started = time.perf_counter()
        batches = [pool.submit(_log_in_many, site, op, chunk, provider) for chunk in chunks]
        done = sum(batch.result() for batch in batches)
        wall = time.perf_counter() - started
    assert done == len(names)
    return wall


def session_cookie(site: str, op: str, name: str, provider: str) -> str:
    """Signs `name` in and returns the session cookie a page benchmark can replay."""
    browser = SharedBrowser(site, op, provider)
    browser.log_in(name)
    return browser.http.cookies["session"]
