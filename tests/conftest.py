import os

import pytest

from domain.model import SessionPolicy
from tests.fakes import (
    FakeClock,
    FakeLoginSessions,
    FakeLoginTransactions,
    FakeTokenSource,
    FakeUnitOfWork,
)
from tests.postgres_server import PostgresServer, postgres_bin_dir


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
