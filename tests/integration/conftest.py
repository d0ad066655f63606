import itertools

import pytest
from sqlalchemy import text

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


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url)
    if engine.dialect.name == "sqlite":
        metadata.create_all(engine)  # a new file for every test
    else:
        _truncate_all(engine)  # one migrated database shared by the session's tests
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database_url(request, tmp_path):
    """An empty database of each kind, for migration tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    return request.getfixturevalue("postgres").create_database(next(_database_names))
