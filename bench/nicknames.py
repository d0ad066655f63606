"""Sign-ups whose provider asserts a nickname thousands hold already ("gamer", "gamer2", ...)
against sign-ups with fresh nicknames: CPU per sign-up through complete_sign_in and the SQL
unit of work, in this process (SQLite runs in it too)."""

import time

from sqlalchemy import insert

from adapters.sql.engine import create_database_engine
from adapters.sql.tables import users
from adapters.system import SystemClock
from bench.provisioning import sign_up
from domain.model import ProviderPolicy, VerifiedIdentity
from domain.nicknames import nickname_key

POLICY = ProviderPolicy("bench")


def seed_crowd(engine, crowd: int) -> None:
    """`crowd` users holding "gamer", "gamer2" ... written straight into the table, as years
    of sign-ups (or data older than the suffix counter) leave them."""
    now = SystemClock().now()
    rows = [
        {"nickname": nick, "nickname_key": nickname_key(nick), "active": True, "created_at": now}
        for nick in ["gamer", *(f"gamer{n}" for n in range(2, crowd + 1))]
    ]
    with engine.begin() as connection:
        for start in range(0, len(rows), 10_000):
            connection.execute(insert(users), rows[start : start + 10_000])


def _sign_ups(engine, nicknames: list[str], prefix: str) -> float:
    """CPU ms per sign-up."""
    started = time.process_time()
    for n, nickname in enumerate(nicknames):
        sign_up(
            engine, VerifiedIdentity(POLICY, "openid", f"https://id.example/{prefix}{n}", nickname)
        )
    return (time.process_time() - started) * 1000 / len(nicknames)


def crowded_sign_up_costs(
    database_url: str, crowd: int, sign_ups: int
) -> tuple[float, float, float]:
    """CPU ms of the first sign-up asserting "gamer" with `crowd` holding it (it counts the
    numbers in use, once per nickname), then per sign-up of more such people, and per
    sign-up of people with fresh nicknames, alternated in halves on one database."""
    engine = create_database_engine(database_url)
    try:
        seed_crowd(engine, crowd)
        first = _sign_ups(engine, ["gamer"], "first-")
        half = sign_ups // 2
        crowded = fresh = 0.0
        for part in range(2):
            crowded += _sign_ups(engine, ["gamer"] * half, f"crowd{part}-")
            fresh += _sign_ups(engine, [f"fresh{part}x{n}" for n in range(half)], f"fresh{part}-")
        return first, crowded / 2, fresh / 2
    finally:
        engine.dispose()
