"""Starts the development OpenID Connect provider (panva's oidc-provider, in
devtools/oidc-provider, installed by `npm ci`) as a child process."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3

DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "oidc-provider"
CLIENT_ID, CLIENT_SECRET = "microblog", "dev-oidc-secret"
START_SECONDS = 30


class DevOidcUnavailable(Exception):
    """Why the dev OIDC provider cannot run here; the message says what to do."""


def dev_oidc_profile(issuer: str) -> dict[str, Any]:
    """The `[[providers]]` entry of the dev OIDC provider."""
    return {
        "key": "dev-oidc",
        "protocol": "oidc",
        "name": "Dev OIDC",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def logout_uris(base_url: str, key: str) -> dict[str, str]:
    """The settings that register a site's logout URLs for the provider `key` with the dev
    OIDC provider: where the browser comes back after signing out there, and where the
    provider posts its logout tokens."""
    return {
        "POST_LOGOUT_REDIRECT_URIS": f"{base_url}/logout/return/{key}",
        "BACKCHANNEL_LOGOUT_URI": f"{base_url}/logout/backchannel/{key}",
    }


def missing_requirement(directory: Path = DEFAULT_DIRECTORY) -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed (make run and make test install Debian's nodejs as root)"
    if not (directory / "node_modules" / "oidc-provider").is_dir():
        return f"its packages are not installed (run: npm ci --prefix {directory})"
    return None


@contextmanager
def served_dev_oidc(
    issuer: str,
    redirect_uris: list[str],
    directory: Path = DEFAULT_DIRECTORY,
    environment: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The dev OIDC provider at `issuer` until the block ends; DevOidcUnavailable if not."""
    missing = missing_requirement(directory)
    if missing:
        raise DevOidcUnavailable(missing)
    settings = {"ISSUER": issuer, "REDIRECT_URIS": ",".join(redirect_uris)}
    process = subprocess.Popen(
        ["node", "server.js"],
        cwd=directory,
        env=os.environ | settings | dict(environment or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(f"{issuer}/.well-known/openid-configuration", process)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = process.stderr.read() if process.stderr else ""
            last = (errors.strip().splitlines() or ["no message"])[-1]
            raise DevOidcUnavailable(f"node stopped at start: {last}")
        try:
            if urllib3.request("GET", url, timeout=1.0, retries=False).status == 200:
                return
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise DevOidcUnavailable(f"it did not answer within {START_SECONDS} s")
