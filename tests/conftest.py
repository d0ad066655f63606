import pytest

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
def sessions() -> FakeLoginSessions:
    return FakeLoginSessions()


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
