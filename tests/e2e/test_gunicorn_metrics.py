"""/metrics under gunicorn with two workers: each counts in its own files, a scrape adds up."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devtools.dev_provider import dev_provider_profile
from devtools.servers import free_port
from tests.e2e.site import Site

BIN = Path(sys.executable).parent


def wait_until_up(url, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            if requests.get(url, timeout=5).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # a worker still booting
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer {url}")


@pytest.mark.slow
def test_metrics_add_up_the_logins_of_two_gunicorn_workers(tmp_path, op):
    url = f"http://127.0.0.1:{free_port()}"
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    config = tmp_path / "microblog.toml"
    entry = dev_provider_profile(op)
    config.write_text("[[providers]]\n" + "".join(f'{k} = "{v}"\n' for k, v in entry.items()))
    environment = os.environ | {
        "MICROBLOG_CONFIG": str(config),
        "MICROBLOG_BASE_URL": url,
        "MICROBLOG_INSTANCE_PATH": str(tmp_path / "instance"),
        "MICROBLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite'}",
        "MICROBLOG_RATE_LIMIT_LOGIN": "off",
        "MICROBLOG_RATE_LIMIT_CALLBACK": "off",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    subprocess.run([BIN / "microblog", "db", "upgrade"], env=environment, check=True, timeout=120)
    command = [
        BIN / "gunicorn",
        "--config",
        "python:entrypoints.cli.gunicorn_config",
        "--workers",
        "2",
        "--bind",
        url.removeprefix("http://"),
        "entrypoints.app:create_app()",
    ]
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"{url}/healthz", process)
        site, logins, workers = Site(url, app=None, op=op), 0, set()
        while logins < 40 and (logins < 4 or len(workers) < 2):
            assert site.visitor().sign_in(f"user{logins}").url == f"{url}/index"
            logins += 1
            workers = {path.stem.split("_")[1] for path in metrics_dir.glob("counter_*.db")}
        assert len(workers) == 2, "both workers counted sign-ins"
        text = requests.get(f"{url}/metrics", timeout=10).text
        found = re.search(
            r'^microblog_logins_total\{outcome="succeeded",provider="dev"\} (\S+)$', text, re.M
        )
        print(f"{logins} sign-ins over workers {sorted(workers)}: /metrics says {found.group(1)}")
        assert float(found.group(1)) == logins
        assert re.search(rf"^microblog_active_sessions {logins}\.0$", text, re.M)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
