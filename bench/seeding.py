"""Fills a migrated database with users, their identities and sessions, in bulk, inside the
database (a recursive CTE on SQLite, generate_series on PostgreSQL): a million rows per table
in seconds, without Python in the loop."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Engine, bindparam, func, select, text

from adapters.sql.tables import users

# Seeded ids stay clear of the ids the app hands out during the benchmark.
FIRST_SEED_ID = 10_000_001

SERIES = {
    "sqlite": "WITH RECURSIVE seq(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM seq "
    "WHERE n < :last) {insert} FROM seq",
    "postgresql": "{insert} FROM generate_series(CAST(:first AS integer), CAST(:last AS integer))"
    " AS seq(n)",
}
INSERTS = [
    "INSERT INTO users (id, nickname, nickname_key, email, active, created_at) "
    "SELECT n, 'seed' || CAST(n AS TEXT), 'seed' || CAST(n AS TEXT), "
    "'seed' || CAST(n AS TEXT) || '@bench.example', TRUE, :now",
    "INSERT INTO identities (namespace, subject, user_id) "
    "SELECT 'openid', 'http://seed.example/id/' || CAST(n AS TEXT), n",
    "INSERT INTO login_sessions "
    "(token_hash, user_id, remember, created_at, last_seen_at, expires_at) "
    "SELECT 'seed-session-' || CAST(n AS TEXT), n, FALSE, :now, :now, :expires",
]


def seeded_count(engine: Engine) -> int:
    with engine.connect() as connection:
        statement = select(func.count()).where(users.c.id >= FIRST_SEED_ID)
        return int(connection.execute(statement).scalar_one())


def seed_users(engine: Engine, target: int) -> int:
    """Adds seeded users (with one identity and one session each) up to `target`."""
    have = seeded_count(engine)
    if have >= target:
        return 0
    first, last = FIRST_SEED_ID + have, FIRST_SEED_ID + target - 1
    now = datetime.now(UTC).replace(tzinfo=None)
    parameters = {"first": first, "last": last, "now": now, "expires": now + timedelta(days=30)}
    with engine.begin() as connection:
        for insert in INSERTS:
            connection.execute(_statement(engine.dialect.name, insert), parameters)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    return target - have


def _statement(dialect: str, insert: str):  # type: ignore[no-untyped-def]
    sql = SERIES[dialect].format(insert=insert)
    times = [bindparam(name, type_=DateTime()) for name in ("now", "expires") if f":{name}" in sql]
    return text(sql).bindparams(*times)
