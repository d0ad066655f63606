import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.postgres_server import free_port

DEV_OIDC = Path(__file__).resolve().parents[1] / "devtools" / "oidc-provider"
CLIENT_SECRET = "dev-oidc-secret"


def dev_oidc_missing() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed (make test installs Debian's nodejs as root)"
    if not (DEV_OIDC / "node_modules" / "oidc-provider").is_dir():
        return "the dev OIDC provider's packages are not installed (make test runs npm ci)"
    return None


def require_dev_oidc() -> None:
    missing = dev_oidc_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)


@contextmanager
def dev_oidc_provider(**environment: str) -> Iterator[str]:
    """panva's oidc-provider (devtools/oidc-provider) on a free port; yields its issuer."""
    issuer = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        ["node", "server.js"],
        cwd=DEV_OIDC,
        env=os.environ | {"ISSUER": issuer, "LOOPBACK_REDIRECTS": "1"} | environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(f"{issuer}/.well-known/openid-configuration", process)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dev OIDC provider stopped: {process.stderr.read()}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("the dev OIDC provider did not start within 30 s")


def dev_oidc_entry(issuer: str, **settings) -> dict:
    return {
        "key": "dev-oidc",
        "protocol": "oidc",
        "name": "Dev OIDC",
        "issuer": issuer,
        "client_id": "microblog",
        "client_secret": CLIENT_SECRET,
        **settings,
    }
