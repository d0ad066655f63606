"""Pages under load when wrk is not installed: `processes` processes of threads, each thread
one connection at a time (gunicorn's sync workers close every connection after its answer),
asking for one URL with a cookie for `seconds`. Raw sockets and little Python, so the load
costs the machine far less than the pages it asks for; wrk costs less still, so ratios taken
with it and with this differ a little: compare only rows measured by the same one."""

import socket
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit


def _ask(host: str, port: int, request: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _one_process(
    url: str, cookie: str, seconds: float, threads: int
) -> tuple[list[float], int, float, float, str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    failures = 0
    first_failure = b""
    lock = threading.Lock()
    began = time.time()  # the wall clock: comparable across processes
    deadline = time.perf_counter() + seconds

    def run() -> None:
        nonlocal failures, first_failure
        mine, failed, seen = [], 0, b""
        while (started := time.perf_counter()) < deadline:
            answer = _ask(host, port, request)
            mine.append(time.perf_counter() - started)
            if not answer.startswith(b"HTTP/1.1 2"):
                failed, seen = failed + 1, seen or answer.split(b"\r\n", 1)[0]
        with lock:
            latencies.extend(mine)
            failures += failed
            first_failure = first_failure or seen

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, failures, began, time.time(), first_failure.decode(errors="replace")


def pages_under_load(
    url: str, cookie: str, seconds: float, connections: int = 16, processes: int = 2
) -> tuple[float, float, float]:
    """Requests/s, p50 ms and p99 ms of GET `url` with the Cookie header `cookie`, as wrk
    -t`processes` -c`connections` measures them; any answer but a 2xx fails."""
    with ProcessPoolExecutor(processes) as pool:
        runs = [
            pool.submit(_one_process, url, cookie, seconds, connections // processes)
            for _ in range(processes)
        ]
        results = [run.result() for run in runs]
    wall = max(r[3] for r in results) - min(r[2] for r in results)
    latencies = sorted(latency for found, *_ in results for latency in found)
    failures = sum(r[1] for r in results)
    if failures:
        answer = next(r[4] for r in results if r[4])
        raise RuntimeError(f"{url}: {failures} of {len(latencies)} pages were not 2xx: {answer}")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / wall, statistics.median(latencies) * 1000, p99 * 1000
