from datetime import UTC, datetime, timedelta

import pytest

from adapters.sql.stores import SqlSessions, SqlTimelines
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import Conflict
from domain.model import Identity, NewUser, Session

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def uow(engine):
    return SqlAlchemyUnitOfWork(engine)


def add_user(uow, nickname="alice", email=None):
    with uow:
        user = uow.users.add(NewUser(nickname, email, NOW))
        uow.commit()
    return user


def test_an_added_user_reads_back_the_same(uow):
    user = add_user(uow, "Alice", "alice@example.com")
    with uow:
        assert uow.users.get(user.id) == user
        assert uow.users.by_nickname("ALICE") == user
        assert uow.users.by_email("alice@example.com") == user
        assert uow.users.nickname_taken("alice")
        assert not uow.users.nickname_taken("bob")
        assert uow.users.list() == [user]
    assert user.created_at == NOW and user.active


def test_work_not_committed_is_rolled_back(uow):
    with uow:
        uow.users.add(NewUser("alice", None, NOW))
    with uow:
        assert uow.users.list() == []


def test_an_error_inside_the_unit_of_work_rolls_back(uow):
    with pytest.raises(RuntimeError), uow:
        uow.users.add(NewUser("alice", None, NOW))
        raise RuntimeError("boom")
    with uow:
        assert uow.users.list() == []


def test_explicit_rollback_discards_the_work(uow):
    with uow:
        uow.users.add(NewUser("alice", None, NOW))
        uow.rollback()
        uow.users.add(NewUser("bob", None, NOW))
        uow.commit()
    with uow:
        assert [u.nickname for u in uow.users.list()] == ["bob"]


def test_nicknames_are_unique_whatever_their_case(uow):
    add_user(uow, "alice")
    with pytest.raises(Conflict), uow:
        uow.users.add(NewUser("ALICE", None, NOW))
        uow.commit()


def test_emails_are_unique_and_many_users_may_have_none(uow):
    add_user(uow, "alice", "a@example.com")
    add_user(uow, "bob")
    add_user(uow, "carol")
    with pytest.raises(Conflict), uow:
        uow.users.add(NewUser("dave", "a@example.com", NOW))
        uow.commit()


def test_an_identity_maps_to_its_user_and_is_unique(uow):
    user = add_user(uow)
    with uow:
        uow.identities.add(Identity("openid", "https://id.example/alice", user.id))
        uow.commit()
    with uow:
        assert uow.identities.owner_of("openid", "https://id.example/alice") == user.id
        assert uow.identities.owner_of("https://issuer.example", "https://id.example/alice") is None
        assert uow.identities.of_user(user.id) == [
            Identity("openid", "https://id.example/alice", user.id)
        ]
    with pytest.raises(Conflict), uow:
        uow.identities.add(Identity("openid", "https://id.example/alice", user.id))


def test_an_identity_must_belong_to_an_existing_user(uow):
    with pytest.raises(Conflict), uow:
        uow.identities.add(Identity("openid", "nobody", 999))
        uow.commit()


def test_enabling_and_disabling_a_user(uow):
    user = add_user(uow)
    with uow:
        uow.users.set_active(user.id, False)
        uow.commit()
    with uow:
        assert uow.users.get(user.id).active is False


def test_deleting_a_user_takes_its_identities_and_sessions_along(engine, uow):
    from sqlalchemy import delete, func, select

    from adapters.sql.tables import identities, login_sessions, users

    user = add_user(uow)
    with uow:
        uow.identities.add(Identity("openid", "alice", user.id))
        uow.commit()
    session = Session("h" * 64, user.id, False, NOW, NOW, NOW + timedelta(hours=1))
    SqlSessions(engine).add(session)
    with engine.begin() as connection:
        connection.execute(delete(users).where(users.c.id == user.id))
        counts = [
            connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (identities, login_sessions)
        ]
    assert counts == [0, 0]


def test_a_users_recent_posts_are_listed_newest_first(uow, engine):
    alice, bob = add_user(uow, "alice"), add_user(uow, "bob")
    with uow:
        first = uow.posts.add(alice.id, "Beautiful day in Portland!", NOW)
        second = uow.posts.add(alice.id, "The Avengers movie was so cool!", NOW + timedelta(1))
        uow.posts.add(bob.id, "Not Alice's", NOW)
        uow.commit()
    timelines = SqlTimelines(engine)
    assert timelines.recent_by(alice.id, 20) == [second, first]
    assert timelines.recent_by(alice.id, 1) == [second]
    assert [post.body for post in timelines.recent_by(bob.id, 20)] == ["Not Alice's"]


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_a_clear_refusal_on_postgresql(migrated_postgres_url):
    from adapters.sql.engine import create_database_engine
    from domain.errors import ValueTooLong

    engine = create_database_engine(migrated_postgres_url)
    try:
        with SqlAlchemyUnitOfWork(engine) as uow:
            user = uow.users.add(NewUser("longface", None, created_at=NOW))
            with pytest.raises(ValueTooLong):
                uow.identities.add(Identity("openid", "x" * 3000, user.id))
    finally:
        engine.dispose()


def test_a_commit_tells_which_existing_accounts_changed_and_nothing_else(engine):
    told: list[set[int]] = []  # each change twice: just before its commit, and just after
    uow = SqlAlchemyUnitOfWork(engine, accounts_changed=told.append)
    alice, bob, carol = (add_user(uow, name) for name in ("alice", "bob", "carol"))
    with uow:  # a new account and its first identity are no change to anything kept
        dave = uow.users.add(NewUser("dave", None, NOW))
        uow.identities.add(Identity("https://op.example", "dave", dave.id, "dev", NOW))
        uow.commit()
    assert told == []
    with uow:
        uow.users.rename(alice.id, "alicia")
        uow.users.set_active(bob.id, False)
        uow.identities.add(Identity("https://op.example", "carol", carol.id, "dev", NOW))
        uow.commit()
        uow.identities.remove("https://op.example", "dave")
        uow.commit()
        uow.users.rename(carol.id, "caroline")
        uow.rollback()
    assert told == [{alice.id, bob.id, carol.id}] * 2 + [{dave.id}] * 2
    with uow:
        uow.users.set_active(bob.id, True)
    assert len(told) == 4, "work left uncommitted told nothing"


def test_a_change_is_told_before_it_is_committed_and_after(engine):
    seen: list[str] = []
    alice = add_user(SqlAlchemyUnitOfWork(engine), "alice")

    def nickname_then(_changed: set[int]) -> None:
        with SqlAlchemyUnitOfWork(engine) as reader:
            seen.append(reader.users.get(alice.id).nickname)

    with SqlAlchemyUnitOfWork(engine, accounts_changed=nickname_then) as uow:
        uow.users.rename(alice.id, "alicia")
        uow.commit()
    assert seen == ["alice", "alicia"]
