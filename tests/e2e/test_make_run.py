import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from devtools.dev_oidc import missing_requirement
from devtools.servers import free_port
from tests.e2e.site import Site

# scripts/check-make-run points this at a fresh clone; by default, this checkout.
CHECKOUT = Path(os.environ.get("MAKE_RUN_CHECKOUT", Path(__file__).resolve().parents[2]))
STARTUP_SECONDS = float(os.environ.get("MAKE_RUN_STARTUP_SECONDS", "60"))


def wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "make run exited before serving"
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"make run did not serve {url} within {STARTUP_SECONDS} s")


@pytest.mark.slow
def test_make_run_serves_a_site_a_person_can_sign_in_to_through_each_dev_provider(tmp_path):
    site_url, op_url, oidc_url, github_url = (f"http://127.0.0.1:{free_port()}" for _ in range(4))
    environment = os.environ | {
        "MICROBLOG_BASE_URL": site_url,
        "MICROBLOG_DEV_PROVIDER_URL": op_url,
        "MICROBLOG_DEV_OIDC_URL": oidc_url,
        "MICROBLOG_DEV_GITHUB_URL": github_url,
        "MICROBLOG_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    log = (tmp_path / "make-run.log").open("w")
    process = subprocess.Popen(
        ["make", "-C", str(CHECKOUT), "run"],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(f"{site_url}/login", process)
        visitor = Site(site_url, app=None, op=op_url).visitor()
        page = visitor.sign_in("carol")
        assert page.url == f"{site_url}/index"
        assert "<h1>Hi, carol!</h1>" in page.text
        assert (tmp_path / "instance" / "microblog.sqlite").exists()
        visitor = Site(site_url, app=None, op=op_url).visitor()
        assert visitor.sign_in_with_github("erin").url == f"{site_url}/index"
        assert visitor.greeting() == "erin"
        if missing_requirement(CHECKOUT / "devtools" / "oidc-provider") is None:
            visitor = Site(site_url, app=None, op=op_url).visitor()
            assert visitor.sign_in_with_oidc("dora").url == f"{site_url}/index"
            assert visitor.greeting() == "dora"
            # Logout goes through Dev OIDC's "sign out?" page and back...
            back = visitor.sign_out_at_oidc(visitor.log_out())
            assert back.url.startswith(f"{site_url}/logout/return/dev-oidc?")
            assert "You are signed out." in back.text
            # ...and signing out on its own page ends the session on the site.
            visitor.sign_in_with_oidc("dora")
            visitor.sign_out_at_oidc(visitor.http.get(f"{oidc_url}/session/end", timeout=10))
            assert visitor.greeting() is None
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)
        log.close()
    output = (tmp_path / "make-run.log").read_text()
    assert f"Microblog on {site_url}/" in output and "Stopped." in output
    assert f"dev GitHub on {github_url}/" in output and '"Dev GitHub"' in output
    if missing_requirement(CHECKOUT / "devtools" / "oidc-provider") is None:
        assert f"dev OIDC provider on {oidc_url}/" in output
