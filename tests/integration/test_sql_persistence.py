from datetime import UTC, datetime, timedelta

import pytest

from adapters.sql.stores import SqlLoginSessions, SqlLoginTransactions, SqlParkedCallbacks
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import Conflict
from domain.model import Identity, LoginSession, LoginTransaction, NewUser, ParkedCallback
from domain.use_cases import recent_posts

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


def a_session(user_id, token_hash="h" * 64, remember=False, now=NOW):
    return LoginSession(token_hash, user_id, remember, now, now, now + timedelta(hours=1))


def test_login_sessions_are_found_by_token_hash_touched_and_removed(engine, uow):
    user = add_user(uow)
    store = SqlLoginSessions(engine)
    session = a_session(user.id)
    store.add(session)
    assert store.get(session.token_hash) == session
    assert store.get_with_user(session.token_hash) == (session, user)
    assert store.get("x" * 64) is None and store.get_with_user("x" * 64) is None
    store.touch(session.token_hash, NOW + timedelta(minutes=10))
    assert store.get(session.token_hash).last_seen_at == NOW + timedelta(minutes=10)
    store.remove(session.token_hash)
    assert store.get(session.token_hash) is None


def test_all_sessions_of_a_user_are_removed_at_once(engine, uow):
    alice, bob = add_user(uow, "alice"), add_user(uow, "bob")
    store = SqlLoginSessions(engine)
    for n in range(3):
        store.add(a_session(alice.id, f"{n}" * 64))
    store.add(a_session(bob.id, "b" * 64))
    assert store.remove_all_of(alice.id) == 3
    assert store.get("0" * 64) is None
    assert store.get("b" * 64) is not None


def test_expired_sessions_are_cleaned_up(engine, uow):
    user = add_user(uow)
    store = SqlLoginSessions(engine)
    store.add(a_session(user.id, "o" * 64, now=NOW - timedelta(hours=2)))
    store.add(a_session(user.id, "n" * 64, now=NOW))
    assert store.remove_expired(NOW) == 1
    assert store.get("n" * 64) is not None


def test_a_session_token_hash_is_unique(engine, uow):
    user = add_user(uow)
    store = SqlLoginSessions(engine)
    store.add(a_session(user.id))
    with pytest.raises(Conflict):
        store.add(a_session(user.id))


def a_transaction(transaction_id="tx-1", created_at=NOW):
    return LoginTransaction(
        id=transaction_id,
        provider="dev",
        next_url="/user/alice?page=2",
        remember=True,
        created_at=created_at,
        expires_at=created_at + timedelta(minutes=10),
        provider_state={"claimed_id": "https://id.example/alice", "type_uris": "a b"},
    )


def test_a_login_transaction_can_be_taken_once(engine):
    store = SqlLoginTransactions(engine)
    store.add(a_transaction())
    assert store.take("tx-1") == a_transaction()
    assert store.take("tx-1") is None


def test_expired_login_transactions_are_cleaned_up(engine):
    store = SqlLoginTransactions(engine)
    store.add(a_transaction("old", NOW - timedelta(hours=1)))
    store.add(a_transaction("new", NOW))
    assert store.remove_expired(NOW) == 1
    assert store.take("new") is not None
    assert store.take("old") is None


def a_parked_answer(handle="h-1", expires_at=NOW + timedelta(minutes=5)):
    # As long as a POST-back answer gets: over 2,047 characters, with non-ASCII values.
    params = {"state": "tx-1", "openid.mode": "id_res", "openid.sreg.nickname": "Zoë " * 600}
    return ParkedCallback(handle, "dev", params, expires_at)


def test_a_parked_answer_can_be_taken_once_and_comes_back_whole(engine):
    store = SqlParkedCallbacks(engine)
    store.park(a_parked_answer())
    assert store.take("h-1") == a_parked_answer()
    assert store.take("h-1") is None


def test_expired_parked_answers_are_cleaned_up(engine):
    store = SqlParkedCallbacks(engine)
    store.park(a_parked_answer("old", NOW - timedelta(minutes=1)))
    store.park(a_parked_answer("new"))
    assert store.remove_expired(NOW) == 1
    assert store.take("new") is not None and store.take("old") is None


def test_deleting_a_user_takes_its_identities_and_sessions_along(engine, uow):
    from sqlalchemy import delete, func, select

    from adapters.sql.tables import identities, login_sessions, users

    user = add_user(uow)
    with uow:
        uow.identities.add(Identity("openid", "alice", user.id))
        uow.commit()
    SqlLoginSessions(engine).add(a_session(user.id))
    with engine.begin() as connection:
        connection.execute(delete(users).where(users.c.id == user.id))
        counts = [
            connection.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (identities, login_sessions)
        ]
    assert counts == [0, 0]


def test_a_users_recent_posts_are_listed_newest_first(uow):
    alice, bob = add_user(uow, "alice"), add_user(uow, "bob")
    with uow:
        first = uow.posts.add(alice.id, "Beautiful day in Portland!", NOW)
        second = uow.posts.add(alice.id, "The Avengers movie was so cool!", NOW + timedelta(1))
        uow.posts.add(bob.id, "Not Alice's", NOW)
        uow.commit()
    assert recent_posts(alice.id, uow=uow) == [second, first]
    assert recent_posts(alice.id, uow=uow, limit=1) == [second]
    assert [post.body for post in recent_posts(bob.id, uow=uow)] == ["Not Alice's"]


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
