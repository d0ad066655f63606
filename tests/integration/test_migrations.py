import logging

from sqlalchemy import inspect, text

from adapters.sql.engine import create_database_engine
from adapters.sql.migrate import downgrade_database, schema_drift, upgrade_database
from adapters.sql.stores import SqlSessions
from adapters.sql.tables import metadata
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.nicknames import nickname_key


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


# Accounts as revision 0006 keyed them (NFKC of the case-folded nickname), look-alikes among
# them: "аdmin" (Cyrillic a) and "ADMİN"-like forms were accepted before revision 0007.
REVISION_0006_USERS = [
    (1, "admin", "admin"),
    (2, "\u0430dmin", "\u0430dmin"),  # Cyrillic a: looks like admin
    (3, "adm\u0131n", "adm\u0131n"),  # dotless i: looks like admin
    (4, "admin\ufe0f", "admin\ufe0f"),  # a variation selector after admin
    (5, "Gamer", "gamer"),
    (6, "gamer10", "gamer10"),
    (7, "\ucc02" * 64, "\ucc02" * 64),  # Hangul: its new key is longer than the column
]


def test_rekeying_nicknames_keeps_every_nickname_and_gives_look_alikes_distinct_keys(
    fresh_database_url, caplog
):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine, "0006")
        with engine.begin() as connection:
            for user_id, nickname, key in REVISION_0006_USERS:
                connection.execute(
                    text(
                        "INSERT INTO users (id, nickname, nickname_key, active, created_at) "
                        "VALUES (:id, :nickname, :key, TRUE, '2026-01-01 10:00:00')"
                    ),
                    {"id": user_id, "nickname": nickname, "key": key},
                )
            connection.exec_driver_sql(
                "INSERT INTO nickname_suffixes (base_key, last_suffix) VALUES ('gamer', 10)"
            )

        with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
            upgrade_database(engine)

        assert rows(engine, "SELECT id, nickname FROM users") == [
            (user_id, nickname) for user_id, nickname, _ in REVISION_0006_USERS
        ]
        keys = dict(rows(engine, "SELECT id, nickname_key FROM users"))
        assert keys[1] == nickname_key("admin") == "adrnin"
        assert keys[2] == "adrnin\x1f2" and keys[3] == "adrnin\x1f3" and keys[4] == "adrnin\x1f4"
        assert keys[5] == nickname_key("Gamer") and keys[6] == nickname_key("gamer10")
        assert len(keys[7]) == 256 and keys[7].endswith("\x1f7")
        assert len(set(keys.values())) == len(keys)
        assert rows(engine, "SELECT base_key FROM nickname_suffixes") == []
        collisions = [r.getMessage() for r in caplog.records if "looks like" in r.getMessage()]
        assert len(collisions) == 3
        assert all("of user 1" in message for message in collisions)
        assert any("user 2:" in message for message in collisions)
        assert schema_drift(engine) == []

        # After the migration: a look-alike of admin is taken, a new gamer counts on.
        with SqlAlchemyUnitOfWork(engine) as uow:
            assert uow.users.by_nickname("\u0430dmin").id == 1
            assert uow.users.nickname_taken(nickname_key("adm\u0131n"))
            assert uow.users.next_nickname_suffix(nickname_key("gamer")) == 11

        downgrade_database(engine, "0006")
        old_keys = dict(rows(engine, "SELECT id, nickname_key FROM users"))
        assert old_keys[2] == "\u0430dmin" and old_keys[5] == "gamer"
    finally:
        engine.dispose()


# Audit kinds as revisions before 0008 stored them, and what the glossary calls them
# (0008 renamed the identity and account kinds, 0009 the sign-out kinds).
STORED_KINDS_0007 = {
    "login.pending": "identity.waiting",
    "login.joined": "identity.confirmed",
    "login.discarded": "identity.discarded",
    "login.connected": "identity.connected",
    "login.disconnected": "identity.disconnected",
    "user.disabled": "account.disabled",
    "user.enabled": "account.enabled",
    "sign_out": "session.ended",
    "sign_out.everywhere": "account.signed_out_everywhere",
    "sign_in.succeeded": "sign_in.succeeded",
    "nickname.changed": "nickname.changed",
}


def test_stored_audit_kinds_are_renamed_to_the_glossarys_words_and_back(fresh_database_url):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine, "0007")
        with engine.begin() as connection:
            for number, kind in enumerate(STORED_KINDS_0007, start=1):
                connection.execute(
                    text(
                        "INSERT INTO audit_events (id, at, kind, user_id, detail) "
                        "VALUES (:id, '2026-01-01 10:00:00', :kind, 1, :detail)"
                    ),
                    {"id": number, "kind": kind, "detail": f"event {number}"},
                )
            connection.execute(  # a refused sign-in names its error, as 0008 called it
                text(
                    "INSERT INTO audit_events (id, at, kind, user_id, detail) "
                    "VALUES (99, '2026-01-01 10:00:00', 'sign_in.refused', NULL, 'LoginCancelled')"
                )
            )
        before = rows(engine, "SELECT id, kind, detail FROM audit_events")

        upgrade_database(engine)

        assert rows(engine, "SELECT id, kind, detail FROM audit_events") == [
            (number, STORED_KINDS_0007[kind], detail) for number, kind, detail in before[:-1]
        ] + [(99, "sign_in.refused", "SignInCancelled")]
        assert schema_drift(engine) == []

        downgrade_database(engine, "0007")
        assert rows(engine, "SELECT id, kind, detail FROM audit_events") == before
    finally:
        engine.dispose()


def test_sessions_from_before_they_kept_their_origin_keep_working(fresh_database_url):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine, "0009")
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO users (id, nickname, nickname_key, active, created_at) VALUES "
                "(1, 'alice', 'alice', TRUE, '2026-01-01 10:00:00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO login_sessions (token_hash, user_id, remember, created_at, "
                "last_seen_at, expires_at, user_agent) VALUES ('hash-1', 1, TRUE, "
                "'2026-01-02 10:00:00', '2026-01-02 10:00:00', '2099-01-01 10:00:00', 'Firefox')"
            )

        upgrade_database(engine)

        assert schema_drift(engine) == []
        sessions = SqlSessions(engine)
        session, user = sessions.get_with_user("hash-1")
        assert (user.nickname, session.remember, session.user_agent) == ("alice", True, "Firefox")
        assert (session.provider, session.subject, session.provider_session_id) == (None,) * 3
        assert session.logout_hint is None
        assert sessions.remove_by_subject("dev-oidc", "alice") == []
        with engine.begin() as connection:  # the new table takes what it is for
            connection.exec_driver_sql(
                "INSERT INTO seen_logout_notices (key, expires_at) "
                "VALUES ('k', '2099-01-01 10:00:00')"
            )

        downgrade_database(engine, "0009")
        assert rows(engine, "SELECT token_hash, user_id, user_agent FROM login_sessions") == [
            ("hash-1", 1, "Firefox")
        ]
        assert "seen_logout_notices" not in inspect(engine).get_table_names()
        upgrade_database(engine)
        assert SqlSessions(engine).get("hash-1").user_agent == "Firefox"
    finally:
        engine.dispose()


def test_identity_handles_are_added_empty_to_the_identities_kept_and_removed_again(
    fresh_database_url,
):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine, "0010")
        with engine.begin() as connection:
            for statement in REVISION_0001_DATA[:2]:
                connection.exec_driver_sql(statement.replace("(provider,", "(namespace,"))
        before = rows(engine, "SELECT namespace, subject, user_id, provider FROM identities")
        owner = before[0][2]
        with engine.begin() as connection:  # an identity waiting for its owner to confirm
            connection.exec_driver_sql(
                "INSERT INTO pending_links (id, owner_id, provider, namespace, subject, "
                f"expires_at) VALUES ('w-1', {owner}, 'github', 'https://github.com', '583231', "
                "'2099-01-01 10:00:00')"
            )
        waiting = rows(engine, "SELECT id, owner_id, provider, subject FROM pending_links")

        upgrade_database(engine)

        assert rows(
            engine, "SELECT namespace, subject, user_id, provider, handle FROM identities"
        ) == [(*row, None) for row in before]
        assert rows(
            engine, "SELECT id, owner_id, provider, subject, handle FROM pending_links"
        ) == [(*row, None) for row in waiting]
        assert schema_drift(engine) == []
        downgrade_database(engine, "0010")
        assert (
            rows(engine, "SELECT namespace, subject, user_id, provider FROM identities") == before
        )
        assert rows(engine, "SELECT id, owner_id, provider, subject FROM pending_links") == waiting
    finally:
        engine.dispose()


def test_accounts_keep_their_language_choice_through_the_migration_and_back(fresh_database_url):
    engine = create_database_engine(fresh_database_url)
    try:
        upgrade_database(engine, "0011")
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO users (id, nickname, nickname_key, email, active, created_at) "
                "VALUES (1, 'alice', 'alice', 'a@example.com', true, '2026-01-01 10:00:00'), "
                "(2, 'bob', 'bob', NULL, false, '2026-01-02 10:00:00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO identities (namespace, subject, user_id) "
                "VALUES ('openid', 'http://op.example/id/alice', 1)"
            )
        before = rows(engine, "SELECT id, nickname, email, active FROM users")

        upgrade_database(engine)

        assert rows(engine, "SELECT id, nickname, email, active FROM users") == before
        assert rows(engine, "SELECT id, language FROM users") == [(1, None), (2, None)]
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.users.set_language(2, "zh_Hans")
            uow.commit()
        with SqlAlchemyUnitOfWork(engine) as uow:
            assert uow.users.get(2).language == "zh_Hans"
            assert uow.users.get(1).language is None
        assert schema_drift(engine) == []

        downgrade_database(engine, "0011")
        assert rows(engine, "SELECT id, nickname, email, active FROM users") == before
        assert rows(engine, "SELECT subject, user_id FROM identities") == [
            ("http://op.example/id/alice", 1)
        ]
        assert "language" not in {c["name"] for c in inspect(engine).get_columns("users")}
    finally:
        engine.dispose()
