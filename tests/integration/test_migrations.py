from sqlalchemy import inspect

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import downgrade_database, schema_drift, upgrade_database
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


REVISION_0001_DATA = [
    "INSERT INTO users (id, nickname, nickname_key, email, active, created_at) VALUES "
    "(1, 'alice', 'alice', 'alice@example.com', TRUE, '2026-01-01 10:00:00'), "
    "(2, 'alice2', 'alice2', NULL, TRUE, '2026-01-02 10:00:00'), "
    "(3, 'gamer', 'gamer', NULL, FALSE, '2026-01-03 10:00:00')",
    # alice2 is the same claimed identifier reached through the dev button: the defect.
    "INSERT INTO identities (provider, subject, user_id) VALUES "
    "('openid', 'http://op.example/id/alice', 1), "
    "('dev', 'http://op.example/id/alice', 2), "
    "('dev', 'http://op.example/id/bob', 2), "
    "('steam', 'https://steamcommunity.com/openid/id/7656', 3)",
    "INSERT INTO posts (id, body, created_at, user_id) VALUES "
    "(1, 'Beautiful day in Portland!', '2026-01-01 11:00:00', 1)",
    "INSERT INTO login_sessions (token_hash, user_id, remember, created_at, last_seen_at, "
    "expires_at) VALUES ('hash-1', 2, TRUE, '2026-01-02 10:00:00', '2026-01-02 10:00:00', "
    "'2026-02-01 10:00:00')",
]


def rows(engine, sql):
    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.exec_driver_sql(sql))


def test_upgrading_a_filled_database_keeps_every_user_and_identity(fresh_database_url):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine, "0001")
        with engine.begin() as connection:
            for statement in REVISION_0001_DATA:
                connection.exec_driver_sql(statement)
        users_before = rows(engine, "SELECT id, nickname, email, active FROM users")

        upgrade_database(engine)

        assert rows(engine, "SELECT id, nickname, email, active FROM users") == users_before
        assert rows(engine, "SELECT namespace, subject, user_id FROM identities") == [
            ("legacy:dev", "http://op.example/id/alice", 2),
            ("openid", "http://op.example/id/alice", 1),
            ("openid", "http://op.example/id/bob", 2),
            ("openid", "https://steamcommunity.com/openid/id/7656", 3),
        ]
        assert rows(engine, "SELECT id, user_id FROM posts") == [(1, 1)]
        assert rows(engine, "SELECT token_hash, user_id FROM login_sessions") == [("hash-1", 2)]
        assert schema_drift(engine) == []
    finally:
        engine.dispose()


def test_the_namespace_migration_can_be_undone(fresh_database_url):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine, "0001")
        with engine.begin() as connection:
            for statement in REVISION_0001_DATA[:2]:
                connection.exec_driver_sql(statement)
        upgrade_database(engine)
        downgrade_database(engine, "0001")
        assert rows(engine, "SELECT provider, subject, user_id FROM identities") == [
            ("dev", "http://op.example/id/alice", 2),
            ("openid", "http://op.example/id/alice", 1),
            ("openid", "http://op.example/id/bob", 2),
            ("openid", "https://steamcommunity.com/openid/id/7656", 3),
        ]
        assert "parked_callbacks" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
