"""The production shape on one machine: PostgreSQL, Redis, N app instances under gunicorn
(the production command), and nginx round-robin in front, all on 127.0.0.1.

    make stack                                  # sessions in Redis, on http://127.0.0.1:8080/
    python -m devtools.stack --session-store sql --port 9000 --instances 3

Ctrl-C stops everything and removes its data. The e2e tests run the same `Stack`.
"""

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devtools.servers import (
    PostgresServer,
    RedisServer,
    free_port,
    postgres_bin_dir,
    redis_server_path,
    wait_for_port,
)

NGINX_TEMPLATE = Path(__file__).with_name("nginx.conf")
BIN = Path(sys.executable).parent


class StackUnavailable(Exception):
    """Something the stack needs is not installed; the message says what."""


def nginx_path() -> Path | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return Path(found) if Path(found).exists() else None


def nginx_config(directory: Path, port: int, upstreams: list[int]) -> str:
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in upstreams
    )
    text = NGINX_TEMPLATE.read_text()
    return (
        text.replace("@DIR@", str(directory))
        .replace("@PORT@", str(port))
        .replace("@SERVERS@", servers)
    )


@dataclass
class Instance:
    """One app instance: gunicorn serving the app on its own port."""

    number: int
    port: int
    log: Path
    process: "subprocess.Popen[bytes] | None" = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    """`providers`: the [[providers]] entries of the instances' shared config file."""

    providers: list[dict[str, object]]
    session_store: str = "redis"
    instances: int = 2
    workers: int = 1
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mb-stack-")))
    extra_environment: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret_key = secrets.token_hex(32)  # one key, shared by every instance
        self.app_instances = [
            Instance(n, free_port(), self.directory / f"instance-{n}.log")
            for n in range(1, self.instances + 1)
        ]
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self._nginx: subprocess.Popen[bytes] | None = None

    # -- starting and stopping ------------------------------------------------------------

    def start(self) -> None:
        postgres, redis, nginx = postgres_bin_dir(), redis_server_path(), nginx_path()
        missing = [name for name, path in [("postgresql", postgres), ("redis-server", redis),
                                           ("nginx", nginx)] if path is None]  # fmt: skip
        if missing:
            raise StackUnavailable(f"missing Debian packages: {', '.join(missing)}")
        self.directory.chmod(0o755)  # nginx's workers run as nobody when started by root
        self.postgres = PostgresServer(postgres)  # type: ignore[arg-type]
        self.postgres.start()
        self.database_url = self.postgres.create_database("microblog")
        self.redis = RedisServer(redis)  # type: ignore[arg-type]
        self.redis.start()
        self._write_config()
        # Migrations run once, before any instance starts: what a rollout does.
        subprocess.run(
            [BIN / "microblog", "db", "upgrade"],
            env=self.environment(),
            check=True,
            capture_output=True,
            timeout=120,
        )
        for instance in self.app_instances:
            self.start_instance(instance.number)
        self._start_nginx(nginx)  # type: ignore[arg-type]

    def stop(self) -> None:
        for instance in self.app_instances:
            self.kill_instance(instance.number, signal.SIGTERM)
        if self._nginx is not None:
            self._nginx.terminate()
            self._nginx.wait(timeout=30)
        for server in (self.redis, self.postgres):
            if server is not None:
                server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "Stack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the parts ------------------------------------------------------------------------

    def environment(self, instance: Instance | None = None) -> dict[str, str]:
        assert self.redis is not None
        environment = os.environ | {
            "MICROBLOG_ENV": "production",
            "MICROBLOG_CONFIG": str(self.directory / "microblog.toml"),
            "MICROBLOG_BASE_URL": self.url,
            "MICROBLOG_ALLOW_HTTP": "true",  # everything stays on 127.0.0.1
            "MICROBLOG_SECRET_KEY": self.secret_key,
            "MICROBLOG_DATABASE_URL": self.database_url,
            "MICROBLOG_REDIS_URL": self.redis.url,
            "MICROBLOG_SESSION_STORE": self.session_store,
            "MICROBLOG_TRUSTED_PROXIES": "1",
            "MICROBLOG_INSTANCE_PATH": str(self.directory / "instance"),
            "MICROBLOG_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
            **self.extra_environment,
        }
        if instance is not None:
            metrics = self.directory / f"metrics-{instance.number}"
            metrics.mkdir(exist_ok=True)
            environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        return environment

    def _write_config(self) -> None:
        lines = []
        for entry in self.providers:
            lines.append("[[providers]]")
            lines += [f"{key} = {_toml(value)}" for key, value in entry.items()]
        (self.directory / "microblog.toml").write_text("\n".join(lines) + "\n")

    def instance(self, number: int) -> Instance:
        return self.app_instances[number - 1]

    def start_instance(self, number: int) -> None:
        """Start (or start again) an instance with the production command; wait until it serves."""
        instance = self.instance(number)
        command = [
            BIN / "gunicorn",
            "--config", "python:entrypoints.cli.gunicorn_config",
            "--workers", str(self.workers),
            "--bind", f"127.0.0.1:{instance.port}",
            "entrypoints.app:create_app()",
        ]  # fmt: skip
        with instance.log.open("ab") as log:
            instance.process = subprocess.Popen(
                command,
                env=self.environment(instance),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed with its workers
            )
        wait_for_port(instance.port, instance.process, seconds=60)

    def kill_instance(self, number: int, how: int = signal.SIGKILL) -> None:
        """SIGKILL: a crash, workers and all; SIGTERM: a graceful stop."""
        process = self.instance(number).process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, how)
        process.wait(timeout=30)

    def _start_nginx(self, nginx: Path) -> None:
        upstreams = [instance.port for instance in self.app_instances]
        config = self.directory / "nginx.conf"
        config.write_text(nginx_config(self.directory, self.port, upstreams))
        command = [str(nginx), "-c", str(config), "-p", str(self.directory), "-g", "daemon off;"]
        with (self.directory / "nginx.log").open("ab") as log:
            self._nginx = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self._nginx)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


@contextmanager
def dev_provider(url: str) -> Iterator[str]:
    """The dev OpenID provider in this process: it vouches for anyone, so it stays on loopback."""
    from devtools.dev_provider import DevProviderSettings, create_dev_provider
    from devtools.serving import served

    with served(create_dev_provider(DevProviderSettings(url)), url):
        yield url


def _stop_on_sigterm() -> None:
    """`kill` and a closed terminal stop the stack as Ctrl-C does, removing what it made."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def main() -> int:
    _stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--session-store", choices=["sql", "redis"], default="redis")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--port", type=int, default=8080)
    options = parser.parse_args()
    from devtools.dev_provider import dev_provider_profile

    with ExitStack() as running:
        provider_url = running.enter_context(dev_provider(f"http://127.0.0.1:{free_port()}"))
        stack = Stack(
            providers=[{"key": "openid", "name": "OpenID"}, dev_provider_profile(provider_url)],
            session_store=options.session_store,
            instances=options.instances,
            workers=options.workers,
            port=options.port,
        )
        try:
            running.enter_context(stack)
        except StackUnavailable as why:
            print(f"make stack: {why} (make stack installs them as root)", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("Stopped while starting.")
            return 130
        ports = ", ".join(str(instance.port) for instance in stack.app_instances)
        print(f"Microblog on {stack.url}/ through nginx, instances on 127.0.0.1 ports {ports}")
        print(f"PostgreSQL: {stack.database_url}; Redis: {stack.redis.url}")  # type: ignore[union-attr]
        print(f"Sessions in {options.session_store}; logs and data in {stack.directory}")
        print('Open it, press "Dev OpenID", type any name and approve. Ctrl-C stops it all.')
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
