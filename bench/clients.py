"""The load generator's login clients: separate processes, each doing whole logins like a
browser (requests keeps the cookies), so that the server's CPU can be divided by logins."""

import re
import time
from concurrent.futures import ProcessPoolExecutor

import requests

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def signed_in_browser(site: str, op: str, name: str, provider: str):
    """A requests session that has signed `name` in, and the index page it landed on."""
    browser = requests.Session()
    login_page = browser.get(f"{site}/login", timeout=30)
    form = {
        "csrf_token": CSRF_FIELD.search(login_page.text).group(1),
        "provider": provider,
        "identifier": f"{op}/id/{name}",
    }
    index = browser.post(f"{site}/login", data=form, timeout=30)
    if index.url != f"{site}/index" or "<h1>Hi, " not in index.text:
        raise RuntimeError(f"login of {name} failed: {index.status_code} {index.url}")
    return browser, index


def log_in_and_out(site: str, op: str, name: str, provider: str) -> None:
    browser, index = signed_in_browser(site, op, name, provider)
    token = CSRF_FIELD.search(index.text).group(1)
    browser.post(f"{site}/logout", data={"csrf_token": token}, timeout=30).raise_for_status()


def _log_in_many(site: str, op: str, names: list[str], provider: str) -> int:
    for name in names:
        log_in_and_out(site, op, name, provider)
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
    browser, _index = signed_in_browser(site, op, name, provider)
    return browser.cookies["session"]
