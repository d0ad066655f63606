"""`python -m bench.profile`: where a gunicorn worker spends its time during whole logins.

One worker runs under cProfile (gunicorn's hooks start and dump it); the figures are inflated
by the profiler, so read them as shares. The clock is the process's CPU time, so waits on
sockets (the provider, the database server) do not count."""

import os
import pstats
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.clients import run_logins
from bench.harness import Bench, start_services

LOGINS = int(os.environ.get("BENCH_LOGINS", "300"))
TOP = int(os.environ.get("BENCH_TOP", "25"))
HOOKS = """
import cProfile, gc, time
# CPU time, not wall time: waiting for the provider's answers is not the worker's cost.
profile = cProfile.Profile(time.process_time)

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
    with ExitStack() as running:
        bench = Bench(workdir, running)
        start_services(bench, databases=False)
        app = bench.serve_app(bench.database("sqlite"), "app", config=str(hooks), workers=1)
        run_logins(app.url, bench.op, [f"profiled-{i}" for i in range(LOGINS)], "openid", 2)
        app.stop()
    stats = pstats.Stats(str(out), stream=sys.stdout)
    print(f"{LOGINS} logins through one gunicorn worker; profile in {out}")
    stats.sort_stats("tottime").print_stats(TOP)
    stats.sort_stats("cumulative").print_stats(r"src/(domain|adapters|entrypoints)", TOP)


if __name__ == "__main__":
    main()
