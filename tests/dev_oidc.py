import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devtools.dev_oidc import dev_oidc_profile, missing_requirement, served_dev_oidc
from devtools.servers import free_port

DEV_OIDC = Path(__file__).resolve().parents[1] / "devtools" / "oidc-provider"


def require_dev_oidc() -> None:
    missing = missing_requirement(DEV_OIDC)
    if missing:
        message = f"the dev OIDC provider cannot run: {missing}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def dev_oidc_provider(
    issuer: str | None = None, environment: dict[str, str] | None = None
) -> Iterator[str]:
    """panva's oidc-provider on a free port (or at `issuer`), taking any loopback return
    URL; its issuer. `environment`: more of its settings (see logout_uris)."""
    issuer = issuer or f"http://127.0.0.1:{free_port()}"
    settings = {"LOOPBACK_REDIRECTS": "1"} | (environment or {})
    with served_dev_oidc(issuer, [], DEV_OIDC, settings):
        yield issuer


def dev_oidc_entry(issuer: str, **settings) -> dict:
    return dev_oidc_profile(issuer) | settings
