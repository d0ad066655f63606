import os

import pytest
from flask import got_request_exception, request_finished
from hypothesis import settings

from devtools.servers import PostgresServer, RedisServer, postgres_bin_dir, redis_server_path
from domain.model import SessionPolicy
from tests.fakes import (
    FakeClock,
    FakeSessions,
    FakeSingleUse,
    FakeTokenSource,
    FakeUnitOfWork,
)

# No timed assertions: an example that runs slowly on a busy machine is not a failure.
settings.register_profile("microblog", deadline=None)
settings.load_profile("microblog")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def sessions(uow) -> FakeSessions:
    return FakeSessions(uow.database)


@pytest.fixture
def sign_ins() -> FakeSingleUse:
    return FakeSingleUse()


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


@pytest.fixture(autouse=True)
def no_server_errors(request):
    """Fails a test in which any app of this process raised past its views or answered 5xx,
    unless the test is marked `server_error` (it checks a 5xx page on purpose)."""
    seen: list[str] = []

    def on_exception(sender, exception, **extra):
        seen.append(f"unhandled {exception!r}")

    def on_response(sender, response, **extra):
        if response.status_code >= 500:
            seen.append(f"answered {response.status_code}")

    got_request_exception.connect(on_exception)
    request_finished.connect(on_response)
    try:
        yield
    finally:
        got_request_exception.disconnect(on_exception)
        request_finished.disconnect(on_response)
    if seen and request.node.get_closest_marker("server_error") is None:
        pytest.fail(f"the app failed on the server side: {seen[:3]}")
