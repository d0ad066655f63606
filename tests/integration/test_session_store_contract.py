"""One contract for the stores of sessions, logins in flight and parked answers, run against
each adapter: SQL (SQLite and PostgreSQL) and a real redis-server."""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete

from adapters.redis.stores import (
    RedisLoginSessions,
    RedisLoginTransactions,
    RedisParkedCallbacks,
    redis_client,
)
from adapters.sql.stores import (
    SqlLoginSessions,
    SqlLoginTransactions,
    SqlParkedCallbacks,
    SqlUserDirectory,
)
from adapters.sql.tables import users
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import Conflict
from domain.model import LoginSession, LoginTransaction, NewUser, ParkedCallback


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Stores:
    sessions: Any
    transactions: Any
    parked: Any
    engine: Engine

    @property
    def uow(self):
        return SqlAlchemyUnitOfWork(self.engine)

    def add_user(self, nickname="alice"):
        with self.uow as uow:
            user = uow.users.add(NewUser(nickname, None, now()))
            uow.commit()
        return user


@pytest.fixture(params=["sql", "redis"])
def stores(request, engine):
    if request.param == "sql":
        sql_stores = SqlLoginSessions, SqlLoginTransactions, SqlParkedCallbacks
        yield Stores(*(store(engine) for store in sql_stores), engine)
        return
    client = redis_client(request.getfixturevalue("redis_server").url)
    client.flushdb()
    users = SqlUserDirectory(engine)
    yield Stores(
        RedisLoginSessions(client, users.get),
        RedisLoginTransactions(client),
        RedisParkedCallbacks(client),
        engine,
    )
    client.close()


def a_session(user_id, token_hash="h" * 64, remember=False, created_at=None, hours=1):
    created_at = created_at or now()
    expires_at = created_at + timedelta(hours=hours)
    return LoginSession(
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
    session = LoginSession("d" * 64, user.id, True, start, start, start + timedelta(days=30))
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


def a_transaction(transaction_id="tx-1", created_at=None, minutes=10, connect_user_id=None):
    created_at = created_at or now()
    return LoginTransaction(
        id=transaction_id,
        provider="dev",
        next_url="/user/alice?page=2",
        remember=True,
        created_at=created_at,
        expires_at=created_at + timedelta(minutes=minutes),
        provider_state={"claimed_id": "https://id.example/alice", "type_uris": "a b"},
        connect_user_id=connect_user_id,
    )


def test_a_login_transaction_can_be_taken_once(stores):
    transaction = a_transaction(connect_user_id=stores.add_user().id)
    stores.transactions.add(transaction)
    assert stores.transactions.take("tx-1") == transaction
    assert stores.transactions.take("tx-1") is None


def test_a_login_transaction_id_is_unique(stores):
    stores.transactions.add(a_transaction())
    with pytest.raises(Conflict):
        stores.transactions.add(a_transaction())


def test_expired_login_transactions_are_gone_after_cleaning_up(stores):
    start = now()
    stores.transactions.add(a_transaction("old", start - timedelta(hours=1)))
    stores.transactions.add(a_transaction("new", start))
    stores.transactions.remove_expired(start)
    assert stores.transactions.take("new") is not None
    assert stores.transactions.take("old") is None


def test_of_many_takers_racing_for_one_transaction_exactly_one_gets_it(stores):
    for round_ in range(5):
        stores.transactions.add(a_transaction(f"tx-{round_}"))
        results, barrier = [], threading.Barrier(8)

        def take(transaction_id=f"tx-{round_}", results=results, barrier=barrier):
            barrier.wait()
            results.append(stores.transactions.take(transaction_id))

        threads = [threading.Thread(target=take) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(result is not None for result in results) == 1


def a_parked_answer(handle="h-1", expires_at=None):
    # As long as a POST-back answer gets: over 2,047 characters, with non-ASCII values.
    params = {"state": "tx-1", "openid.mode": "id_res", "openid.sreg.nickname": "Zoë " * 600}
    return ParkedCallback(handle, "dev", params, expires_at or now() + timedelta(minutes=5))


def test_a_parked_answer_can_be_taken_once_and_comes_back_whole(stores):
    answer = a_parked_answer()
    stores.parked.park(answer)
    assert stores.parked.take("h-1") == answer
    assert stores.parked.take("h-1") is None


def test_expired_parked_answers_are_gone_after_cleaning_up(stores):
    start = now()
    stores.parked.park(a_parked_answer("old", start - timedelta(minutes=1)))
    stores.parked.park(a_parked_answer("new"))
    stores.parked.remove_expired(start)
    assert stores.parked.take("new") is not None and stores.parked.take("old") is None


def test_a_bounded_sweep_of_parked_answers_takes_expired_ones_in_batches(stores):
    # Logins.park sweeps this way each time it parks an answer.
    start = now()
    for number in range(3):
        stores.parked.park(a_parked_answer(f"old-{number}", start - timedelta(minutes=1)))
    stores.parked.park(a_parked_answer("new"))
    assert stores.parked.remove_expired(start, 2) <= 2
    stores.parked.remove_expired(start, 2)
    assert [stores.parked.take(f"old-{number}") for number in range(3)] == [None] * 3
    assert stores.parked.take("new") is not None
