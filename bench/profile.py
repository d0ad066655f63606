"""`python -m bench.profile`: where a gunicorn worker spends its time during whole logins.

One worker runs under cProfile (gunicorn's hooks start and dump it); the figures are inflated
by the profiler, so read them as shares, and note that socket waits are wall time, not CPU."""

import os
import pstats
import sys
import tempfile
from pathlib import Path

from tests.postgres_server import free_port

from bench.clients import run_logins
from bench.run import BIN, ROOT, Bench, Served

LOGINS = int(os.environ.get("BENCH_LOGINS", "300"))
TOP = int(os.environ.get("BENCH_TOP", "25"))
HOOKS = """
import cProfile, gc
profile = cProfile.Profile()

def post_worker_init(worker):
    gc.freeze()
    profile.enable()

def worker_exit(server, worker):
    profile.disable()
    profile.dump_stats({out!r})
"""


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="microblog-profile-"))
    out = workdir / "worker.prof"
    hooks = workdir / "hooks.py"
    hooks.write_text(HOOKS.format(out=str(out)))
    op_url = f"http://127.0.0.1:{free_port()}"
    op = Served(
        [str(BIN / "microblog"), "dev-provider", "--auto-approve", "--url", op_url],
        os.environ | {"MICROBLOG_INSTANCE_PATH": str(workdir / "op-instance")},
        op_url,
        workdir / "op.log",
    )
    bench = Bench(workdir, op_url, postgres=None)
    try:
        port = free_port()
        env = bench.app_env(bench.database("sqlite"))
        env |= {"MICROBLOG_BASE_URL": f"http://127.0.0.1:{port}"}
        command = [str(BIN / "gunicorn"), "--config", str(hooks), "--workers", "1"]
        command += ["--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT)]
        app = Served(
            [*command, "entrypoints.app:create_app()"],
            env,
            f"http://127.0.0.1:{port}",
            workdir / "app.log",
        )
        run_logins(app.url, op_url, [f"profiled-{i}" for i in range(LOGINS)], "openid", processes=2)
        app.stop()
    finally:
        op.stop()
    stats = pstats.Stats(str(out), stream=sys.stdout)
    print(f"{LOGINS} logins through one gunicorn worker; profile in {out}")
    stats.sort_stats("tottime").print_stats(TOP)
    stats.sort_stats("cumulative").print_stats(r"src/(domain|adapters|entrypoints)", TOP)


if __name__ == "__main__":
    main()
