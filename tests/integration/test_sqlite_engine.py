from adapters.sql.engine import DEFAULT_SQLITE_BUSY_TIMEOUT_MS, create_database_engine


def test_sqlite_files_get_foreign_keys_wal_and_a_busy_timeout(tmp_path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("foreign_keys") == 1
            assert pragma("journal_mode") == "wal"
            assert pragma("busy_timeout") == DEFAULT_SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()
