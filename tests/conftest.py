import os

import pytest

from devtools.servers import PostgresServer, RedisServer, postgres_bin_dir, redis_server_path
from domain.model import SessionPolicy
from tests.fakes import (
    FakeClock,
    FakeLoginSessions,
    FakeLoginTransactions,
    FakeTokenSource,
    FakeUnitOfWork,
)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def sessions(uow) -> FakeLoginSessions:
    return FakeLoginSessions(uow.database)


@pytest.fixture
def transactions() -> FakeLoginTransactions:
    return FakeLoginTransactions()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens() -> FakeTokenSource:
    return FakeTokenSource()


@pytest.fixture
def session_policy() -> SessionPolicy:
    return SessionPolicy()


@pytest.fixture(scope="session")
def postgres():
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (make test installs Debian's postgresql as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bin_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server, started once for the session's tests."""
    executable = redis_server_path()
    if executable is None:
        message = "Redis is not installed (make test installs Debian's redis-server as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(executable)
    server.start()
    yield server
    server.stop()
