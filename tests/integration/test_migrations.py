from sqlalchemy import inspect

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import schema_drift, upgrade_database
from adapters.sql.tables import metadata


def test_upgrade_from_empty_creates_every_table_and_matches_the_mapped_tables(
    fresh_database_url,
):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
        assert "alembic_version" in tables
        assert schema_drift(engine) == []
        upgrade_database(engine)  # a second upgrade finds nothing to do
        assert schema_drift(engine) == []
    finally:
        engine.dispose()


def test_drift_is_detected(fresh_database_url):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_login_sessions_expires_at")
        assert schema_drift(engine) != []
    finally:
        engine.dispose()
