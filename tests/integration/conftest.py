import itertools

import pytest
from sqlalchemy import Engine, text

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import upgrade_database
from adapters.sql.tables import metadata

_database_names = (f"test_{n}" for n in itertools.count(1))


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres):
    url = postgres.create_database("contracts")
    engine = create_database_engine(url)
    upgrade_database(engine)
    engine.dispose()
    return url


def _truncate_all(engine) -> None:
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'microblog.sqlite'}"
    return request.getfixturevalue("migrated_postgres_url")


def empty_engine(url: str) -> Engine:
    """An engine on the schema at `url`, with no rows: a new SQLite file gets its tables, the
    one migrated PostgreSQL database shared by the session's tests is emptied."""
    engine = create_database_engine(url)
    if engine.dialect.name == "sqlite":
        metadata.create_all(engine)
    else:
        _truncate_all(engine)
    return engine


@pytest.fixture
def engine(database_url):
    engine = empty_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def open_empty_database(request, tmp_path):
    """For a test that picks its database itself: an engine on an empty schema of the
    dialect asked, "sqlite" or "postgresql", disposed after the test."""
    engines = []

    def open_empty_database(dialect: str) -> Engine:
        if dialect == "sqlite":
            url = f"sqlite:///{tmp_path / 'microblog.sqlite'}"
        else:
            url = request.getfixturevalue("migrated_postgres_url")
        engines.append(empty_engine(url))
        return engines[-1]

    yield open_empty_database
    for engine in engines:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database_url(request, tmp_path):
    """An empty database of each kind, for migration tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    return request.getfixturevalue("postgres").create_database(next(_database_names))
