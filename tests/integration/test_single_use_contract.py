"""One contract for the three single-use stores (sign-ins, parked answers, waiting
identities): put, take at most once, remove expired. Run for each kind against each store:
SQL (SQLite and PostgreSQL), a real redis-server, and the fake the unit tests use."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.redis import stores as redis_stores
from adapters.redis.stores import RedisSingleUse, redis_client
from adapters.sql import stores as sql_stores
from adapters.sql.stores import SqlSingleUse
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from domain.errors import Conflict
from domain.model import NewUser, ParkedAnswer, SignIn, WaitingIdentity
from tests.fakes import FakeSingleUse


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def a_sign_in(key: str, expires_at: datetime, user_id: int) -> SignIn:
    return SignIn(
        id=key,
        provider="dev",
        next_url="/user/alice?page=2",
        remember=True,
        created_at=expires_at - timedelta(minutes=10),
        expires_at=expires_at,
        provider_state={"claimed_id": "https://id.example/alice", "type_uris": "a b"},
        connect_user_id=user_id,
    )


def a_parked_answer(key: str, expires_at: datetime, user_id: int) -> ParkedAnswer:
    # As long as a POST-back answer gets: over 2,047 characters, with non-ASCII values.
    params = {"state": "tx-1", "openid.mode": "id_res", "openid.sreg.nickname": "Zoë " * 600}
    return ParkedAnswer(key, "dev", params, expires_at)


def a_waiting_identity(key: str, expires_at: datetime, user_id: int) -> WaitingIdentity:
    return WaitingIdentity(key, user_id, "dev", "openid", "https://id.example/bob", expires_at)


@dataclass(frozen=True)
class Kind:
    make: Callable[[str, datetime, int], Any]
    sql: sql_stores.TableCodec[Any]
    redis: redis_stores.JsonCodec[Any]


KINDS = {
    "sign-ins": Kind(a_sign_in, sql_stores.SIGN_INS, redis_stores.SIGN_INS),
    "parked-answers": Kind(a_parked_answer, sql_stores.PARKED_ANSWERS, redis_stores.PARKED_ANSWERS),
    "waiting-identities": Kind(
        a_waiting_identity, sql_stores.WAITING_IDENTITIES, redis_stores.WAITING_IDENTITIES
    ),
}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis", "fake"]


@dataclass
class StoreUnderTest:
    store: Any
    kind: Kind
    user_id: int  # an account the items may name (SQL keeps them only for a real one)
    forgets_by_itself: bool  # drops expired items itself: removing them finds none

    def item(self, key: str, expires_at: datetime | None = None) -> Any:
        return self.kind.make(key, expires_at or now() + timedelta(minutes=10), self.user_id)


@pytest.fixture(params=KINDS)
def kind(request):
    return KINDS[request.param]


@pytest.fixture(params=BACKENDS)
def single_use(request, kind, open_empty_database):
    if request.param == "fake":
        yield StoreUnderTest(FakeSingleUse(), kind, 1, forgets_by_itself=False)
    elif request.param == "redis":
        client = redis_client(request.getfixturevalue("redis_server").url)
        client.flushdb()
        yield StoreUnderTest(RedisSingleUse(client, kind.redis), kind, 1, forgets_by_itself=True)
        client.close()
    else:
        engine = open_empty_database(request.param)
        with SqlAlchemyUnitOfWork(engine) as uow:
            user = uow.users.add(NewUser("alice", None, now()))
            uow.commit()
        store = SqlSingleUse(engine, kind.sql)
        yield StoreUnderTest(store, kind, user.id, forgets_by_itself=False)


def test_an_item_is_taken_once_and_comes_back_whole(single_use):
    item = single_use.item("key-1")
    single_use.store.put(item)
    assert single_use.store.take("key-1") == item
    assert single_use.store.take("key-1") is None


def test_a_key_never_kept_takes_nothing(single_use):
    single_use.store.put(single_use.item("key-1"))
    assert single_use.store.take("key-2") is None
    assert single_use.store.take("key-1") is not None


def test_a_key_is_kept_once_and_a_second_put_under_it_changes_nothing(single_use):
    first = single_use.item("key-1")
    single_use.store.put(first)
    with pytest.raises(Conflict):
        single_use.store.put(single_use.item("key-1", now() + timedelta(minutes=3)))
    assert single_use.store.take("key-1") == first


def test_expired_items_are_gone_after_removing_expired_ones_and_live_ones_stay(single_use):
    start = now()
    single_use.store.put(single_use.item("old", start - timedelta(minutes=1)))
    single_use.store.put(single_use.item("new"))
    removed = single_use.store.remove_expired(start)
    assert removed == (0 if single_use.forgets_by_itself else 1)
    assert single_use.store.take("old") is None
    assert single_use.store.take("new") is not None


def test_a_bounded_sweep_removes_at_most_its_limit_of_expired_items(single_use):
    # SignInService.park sweeps parked answers this way each time it parks one; housekeeping too.
    start = now()
    for number in range(3):
        single_use.store.put(single_use.item(f"old-{number}", start - timedelta(minutes=1)))
    single_use.store.put(single_use.item("new"))
    sweeps = [single_use.store.remove_expired(start, 2) for _ in range(3)]
    assert sweeps == ([0, 0, 0] if single_use.forgets_by_itself else [2, 1, 0])
    assert [single_use.store.take(f"old-{number}") for number in range(3)] == [None] * 3
    assert single_use.store.take("new") is not None


def test_of_many_takers_racing_for_one_item_exactly_one_gets_it(single_use):
    for round_ in range(5):
        single_use.store.put(single_use.item(f"key-{round_}"))
        results, barrier = [], threading.Barrier(8)

        def take(key=f"key-{round_}", results=results, barrier=barrier):
            barrier.wait()
            results.append(single_use.store.take(key))

        threads = [threading.Thread(target=take) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(result is not None for result in results) == 1
