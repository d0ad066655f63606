"""One contract for the stores of sessions, run against each adapter: SQL (SQLite and
PostgreSQL) and a real redis-server. The single-use stores have theirs in
test_single_use_contract.py."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete

from adapters.redis.stores import RedisSessions, redis_client
from adapters.sql.stores import SqlSessions, SqlUserDirectory
from adapters.sql.tables import users
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import Conflict
from domain.model import Identity, NewUser, Session


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Stores:
    sessions: Any
    engine: Engine

    @property
    def uow(self):
        """As the container makes it: a store that keeps accounts hears of their changes."""
        changed = getattr(self.sessions, "accounts_changed", None)
        return SqlAlchemyUnitOfWork(self.engine, accounts_changed=changed)

    def add_user(self, nickname="alice"):
        with self.uow as uow:
            user = uow.users.add(NewUser(nickname, None, now()))
            uow.commit()
        return user


@pytest.fixture(params=["sql", "redis"])
def stores(request, engine):
    if request.param == "sql":
        yield Stores(SqlSessions(engine), engine)
        return
    client = redis_client(request.getfixturevalue("redis_server").url)
    client.flushdb()
    yield Stores(RedisSessions(client, SqlUserDirectory(engine).get), engine)
    client.close()


def a_session(user_id, token_hash="h" * 64, remember=False, created_at=None, hours=1):
    created_at = created_at or now()
    expires_at = created_at + timedelta(hours=hours)
    return Session(
        token_hash, user_id, remember, created_at, created_at, expires_at, "Firefox", "10.0.0.1"
    )


def test_login_sessions_are_found_by_token_hash_touched_and_removed(stores):
    user = stores.add_user()
    store = stores.sessions
    session = a_session(user.id)
    store.add(session)
    assert store.get(session.token_hash) == session
    assert store.get_with_user(session.token_hash) == (session, user)
    assert store.get("x" * 64) is None and store.get_with_user("x" * 64) is None
    later = session.created_at + timedelta(minutes=10)
    store.touch(session.token_hash, later, session.expires_at)
    assert store.get(session.token_hash).last_seen_at == later
    assert store.remove(session.token_hash) == user.id
    assert store.get(session.token_hash) is None
    assert store.remove(session.token_hash) is None  # ended once, and only once
    store.touch(session.token_hash, later, session.expires_at)  # not brought back
    assert store.get(session.token_hash) is None


def test_a_touch_moves_the_sessions_expiry_for_every_reader(stores):
    """Without remember-me, each write of last-seen moves the expiry to the idle limit after
    it: the store's own expiry, sweep and counts then end an idle session."""
    user = stores.add_user()
    store, start = stores.sessions, now()
    session = a_session(user.id, created_at=start - timedelta(minutes=50), hours=1)
    store.add(session)
    moved = start + timedelta(minutes=30)
    store.touch(session.token_hash, start, moved)
    touched = store.get(session.token_hash)
    assert (touched.last_seen_at, touched.expires_at) == (start, moved)
    assert [s.expires_at for s in store.of_user(user.id)] == [moved]
    assert store.count_live(start + timedelta(minutes=20)) == 1
    assert store.remove_expired(start + timedelta(minutes=20)) == 0
    assert store.count_live(moved) == 0
    assert store.remove_expired(moved) == 1


def test_a_touch_does_not_bring_back_a_session_that_has_ended(stores):
    user = stores.add_user()
    store, start = stores.sessions, now()
    ended = a_session(user.id, created_at=start - timedelta(minutes=61), hours=1)
    store.add(ended)
    store.touch(ended.token_hash, start, start + timedelta(minutes=30))
    found = store.get(ended.token_hash)
    assert found is None or found == ended
    assert store.count_live(start) == 0


def test_a_session_without_device_reads_back_the_same(stores):
    user = stores.add_user()
    start = now()
    session = Session("d" * 64, user.id, True, start, start, start + timedelta(days=30))
    stores.sessions.add(session)
    assert stores.sessions.get("d" * 64) == session


def test_a_users_sessions_are_listed_newest_first_and_removed_at_once(stores):
    alice, bob = stores.add_user("alice"), stores.add_user("bob")
    store, start = stores.sessions, now()
    for n in range(3):
        store.add(a_session(alice.id, f"{n}" * 64, created_at=start + timedelta(seconds=n)))
    store.add(a_session(bob.id, "b" * 64))
    assert [s.token_hash for s in store.of_user(alice.id)] == [f"{n}" * 64 for n in (2, 1, 0)]
    assert store.remove_all_of_except(alice.id, "1" * 64) == 2
    assert [s.token_hash for s in store.of_user(alice.id)] == ["1" * 64]
    assert store.remove_all_of(alice.id) == 1
    assert store.of_user(alice.id) == [] and store.get("1" * 64) is None
    assert store.get("b" * 64) is not None


def test_expired_sessions_are_not_listed_nor_counted_and_are_cleaned_up(stores):
    user = stores.add_user()
    store, start = stores.sessions, now()
    store.add(a_session(user.id, "o" * 64, created_at=start - timedelta(hours=2)))
    store.add(a_session(user.id, "n" * 64, created_at=start))
    store.remove_expired(start)
    assert [s.token_hash for s in store.of_user(user.id)] == ["n" * 64]
    assert store.get("o" * 64) is None and store.get("n" * 64) is not None
    assert store.count_live(start) == 1


def test_a_session_token_hash_is_unique(stores):
    user = stores.add_user()
    stores.sessions.add(a_session(user.id))
    with pytest.raises(Conflict):
        stores.sessions.add(a_session(user.id))


def test_a_session_of_a_deleted_user_opens_nothing(stores):
    user = stores.add_user()
    stores.sessions.add(a_session(user.id))
    with stores.engine.begin() as connection:
        connection.execute(delete(users).where(users.c.id == user.id))
    assert stores.sessions.get_with_user("h" * 64) is None


def a_session_from(user_id, token_hash, provider="corp", sid=None, subject="alice-sub"):
    """A session opened through `provider` with identity `subject`, in its session `sid`."""
    return replace(
        a_session(user_id, token_hash, remember=True),
        provider=provider,
        namespace="https://id.example",
        subject=subject,
        provider_session_id=sid,
        logout_hint="eyJ.id-token.sig",
    )


def test_a_session_reads_back_where_it_came_from(stores):
    user = stores.add_user()
    session = a_session_from(user.id, "o" * 64, sid="sid-1")
    stores.sessions.add(session)
    assert stores.sessions.get("o" * 64) == session
    assert stores.sessions.get_with_user("o" * 64) == (session, user)
    assert stores.sessions.of_user(user.id) == [session]


def test_sessions_of_a_provider_session_end_in_one_step_and_no_others(stores):
    alice, bob = stores.add_user("alice"), stores.add_user("bob")
    store = stores.sessions
    store.add(a_session_from(alice.id, "1" * 64, sid="sid-a"))
    store.add(a_session_from(alice.id, "2" * 64, sid="sid-a"))
    store.add(a_session_from(alice.id, "3" * 64, sid="sid-a2"))  # her other browser
    store.add(a_session_from(alice.id, "4" * 64, provider="other", sid="sid-a"))
    store.add(a_session_from(bob.id, "5" * 64, sid="sid-b", subject="bob-sub"))
    store.add(a_session(alice.id, "6" * 64))  # from before sessions kept their origin

    assert store.remove_by_provider_session("corp", "sid-a") == [alice.id, alice.id]
    assert store.get("1" * 64) is None and store.get("2" * 64) is None
    kept = ["3", "4", "5", "6"]
    assert all(store.get(n * 64) is not None for n in kept)
    assert store.remove_by_provider_session("corp", "sid-a") == []  # ended already
    assert store.count_live(now()) == 4
    assert {s.token_hash for s in store.of_user(alice.id)} == {"3" * 64, "4" * 64, "6" * 64}


def test_sessions_of_a_subject_at_a_provider_end_in_one_step_and_no_others(stores):
    alice, bob = stores.add_user("alice"), stores.add_user("bob")
    store = stores.sessions
    store.add(a_session_from(alice.id, "1" * 64, sid="sid-a"))
    store.add(a_session_from(alice.id, "2" * 64))  # no provider session id
    store.add(a_session_from(alice.id, "3" * 64, provider="other"))
    store.add(a_session_from(bob.id, "4" * 64, subject="bob-sub"))

    assert store.remove_by_subject("corp", "alice-sub") == [alice.id, alice.id]
    assert [store.get(n * 64) is None for n in "1234"] == [True, True, False, False]
    assert store.remove_by_subject("corp", "alice-sub") == []
    assert store.remove_by_provider_session("corp", "sid-a") == []  # gone from every index


def test_a_session_ended_otherwise_is_not_ended_again_by_its_origin(stores):
    user = stores.add_user()
    store = stores.sessions
    store.add(a_session_from(user.id, "1" * 64, sid="sid-a"))
    store.add(a_session_from(user.id, "2" * 64, sid="sid-a"))
    assert store.remove("1" * 64) == user.id
    assert store.remove_all_of_except(user.id, "x" * 64) == 1
    assert store.remove_by_provider_session("corp", "sid-a") == []
    assert store.remove_by_subject("corp", "alice-sub") == []
    assert store.count_live(now()) == 0


def test_a_touched_session_is_still_found_by_its_origin(stores):
    user = stores.add_user()
    store, start = stores.sessions, now()
    session = replace(a_session_from(user.id, "1" * 64, sid="sid-a"), remember=False)
    store.add(session)
    store.touch(session.token_hash, start + timedelta(minutes=5), start + timedelta(hours=2))
    assert store.remove_by_provider_session("corp", "sid-a") == [user.id]


def test_a_session_reads_its_account_as_it_is_after_a_rename_and_a_disable(stores):
    user = stores.add_user()
    stores.sessions.add(a_session(user.id))
    assert stores.sessions.get_with_user("h" * 64)[1] == user
    with stores.uow as uow:
        uow.users.rename(user.id, "alicia")
        uow.commit()
    assert stores.sessions.get_with_user("h" * 64)[1].nickname == "alicia"
    with stores.uow as uow:
        uow.users.set_active(user.id, False)
        uow.commit()
    assert not stores.sessions.get_with_user("h" * 64)[1].active
    with stores.uow as uow:
        uow.users.set_active(user.id, True)
        uow.commit()
    assert stores.sessions.get_with_user("h" * 64)[1].active


def test_a_change_rolled_back_leaves_the_account_as_it_was(stores):
    user = stores.add_user()
    stores.sessions.add(a_session(user.id))
    stores.sessions.get_with_user("h" * 64)
    with stores.uow as uow:
        uow.users.rename(user.id, "alicia")
        uow.rollback()
    with stores.uow as uow:
        uow.identities.add(Identity("https://id.example", "alice", user.id, "corp", now()))
        # left without commit
    assert stores.sessions.get_with_user("h" * 64)[1] == user


def test_a_session_reads_its_accounts_language_as_it_is_after_a_choice(stores):
    user = stores.add_user()
    stores.sessions.add(a_session(user.id))
    with stores.uow as uow:
        uow.users.set_language(user.id, "zh_Hans")
        uow.commit()
    assert stores.sessions.get_with_user("h" * 64)[1].language == "zh_Hans"
    assert stores.sessions.get_with_user("h" * 64)[1].language == "zh_Hans"  # kept, as read
    with stores.uow as uow:
        uow.users.set_language(user.id, "de")
        uow.commit()
    assert stores.sessions.get_with_user("h" * 64)[1].language == "de"
