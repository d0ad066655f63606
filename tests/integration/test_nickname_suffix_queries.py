"""Finding a free nickname takes the same number of SQL statements whatever how many people
already hold the nickname and its numbered forms."""

from contextlib import contextmanager

from sqlalchemy import event, insert

from adapters.sql.stores import SqlSessions
from adapters.sql.tables import users
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system import SecretsTokenSource, SystemClock
from domain.model import ProviderPolicy, SessionPolicy, VerifiedIdentity
from domain.nicknames import nickname_key
from domain.provisioning import complete_sign_in

GAMERS = ProviderPolicy("steam")
_subjects = iter(range(10**9))


def sign_up(engine, nickname):
    verified = VerifiedIdentity(
        GAMERS, "openid", f"https://steam.example/{next(_subjects)}", nickname
    )
    return complete_sign_in(
        verified,
        remember=False,
        uow=SqlAlchemyUnitOfWork(engine, writing=True),
        sessions=SqlSessions(engine),
        clock=SystemClock(),
        tokens=SecretsTokenSource(),
        policy=SessionPolicy(),
    ).user.nickname


@contextmanager
def counting_statements(engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements_of_a_sign_up(engine, nickname) -> tuple[str, int]:
    with counting_statements(engine) as statements:
        made = sign_up(engine, nickname)
    return made, len(statements)


def seed(engine, nicknames):
    """Users written straight into the table, as data older than the suffix counter (or
    renames) leave them."""
    now = SystemClock().now()
    rows = [
        {"nickname": n, "nickname_key": nickname_key(n), "active": True, "created_at": now}
        for n in nicknames
    ]
    with engine.begin() as connection:
        connection.execute(insert(users), rows)


def test_a_sign_up_runs_as_many_statements_with_1_or_1000_taken_suffixes(engine):
    seed(engine, ["gamer", "gamer2"])  # 1 taken suffix
    seed(engine, ["elf", *(f"elf{n}" for n in range(2, 1002))])  # 1,000 taken suffixes
    counts = {}
    for base, taken in (("gamer", 1), ("elf", 1000)):
        # The first collision counts what exists (one query), later ones read the counter.
        first, first_count = statements_of_a_sign_up(engine, base)
        then, then_count = statements_of_a_sign_up(engine, base)
        assert (first, then) == (f"{base}{taken + 2}", f"{base}{taken + 3}")
        counts[taken] = (first_count, then_count)
    print(f"statements per sign-up, first collision and later: {counts}")
    assert counts[1] == counts[1000]
    assert counts[1][1] < counts[1][0]


def test_the_counter_skips_a_number_someone_took_by_hand(engine):
    assert [sign_up(engine, "gamer") for _ in range(3)] == ["gamer", "gamer2", "gamer3"]
    seed(engine, ["Gamer4"])  # a rename, say
    assert sign_up(engine, "gamer") == "gamer5"


def test_a_nickname_with_like_wildcards_counts_only_its_own_suffixes(engine):
    seed(engine, ["a_b", "axb7", "a_b3", "a%b9", "a_b03"])
    assert sign_up(engine, "a_b") == "a_b4"


def test_a_rolled_back_sign_up_gives_its_number_back(engine):
    seed(engine, ["gamer", "gamer2"])
    with SqlAlchemyUnitOfWork(engine, writing=True) as uow:
        assert uow.users.next_nickname_suffix(nickname_key("gamer")) == 3
    assert sign_up(engine, "gamer") == "gamer3"
