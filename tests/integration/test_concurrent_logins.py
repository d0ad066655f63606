import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.sql.stores import SqlSessions
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from adapters.system import SecretsTokenSource, SystemClock
from domain.model import ProviderPolicy, SessionPolicy, VerifiedIdentity
from domain.nicknames import nickname_key
from domain.provisioning import complete_sign_in

THREADS = 8
DEV = ProviderPolicy("dev")


def log_in_at_once(engine, identities):
    """Completes every login in its own thread, all released together by a barrier."""
    barrier = threading.Barrier(len(identities))
    sessions, clock, tokens = SqlSessions(engine), SystemClock(), SecretsTokenSource()

    def log_in(verified):
        barrier.wait()
        return complete_sign_in(
            verified,
            remember=False,
            uow=SqlAlchemyUnitOfWork(engine, writing=True),  # as the web app's return view does
            sessions=sessions,
            clock=clock,
            tokens=tokens,
            policy=SessionPolicy(),
        )

    with ThreadPoolExecutor(len(identities)) as pool:
        return list(pool.map(log_in, identities))


def all_users(engine):
    with SqlAlchemyUnitOfWork(engine) as uow:
        return list(uow.users.list())


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_first_logins_of_one_identity_yield_one_user(engine, attempt):
    identity = VerifiedIdentity(DEV, "openid", "https://id.example/alice", "alice")
    signed_in = log_in_at_once(engine, [identity] * THREADS)
    users = all_users(engine)
    assert len(users) == 1
    assert {s.user.id for s in signed_in} == {users[0].id}
    assert len({s.token for s in signed_in}) == THREADS


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_new_users_asserting_one_nickname_get_distinct_nicknames(engine, attempt):
    identities = [
        VerifiedIdentity(DEV, "openid", f"https://id.example/{n}", "alice") for n in range(THREADS)
    ]
    signed_in = log_in_at_once(engine, identities)
    users = all_users(engine)
    assert len(users) == THREADS
    assert len({nickname_key(u.nickname) for u in users}) == THREADS
    assert {s.user.id for s in signed_in} == {u.id for u in users}
    assert {u.nickname for u in users} == {"alice"} | {f"alice{n}" for n in range(2, THREADS + 1)}


def test_sustained_concurrent_first_logins_all_succeed(engine):
    """Four threads provisioning back to back: on SQLite a writer waits for the write lock
    (BEGIN IMMEDIATE + busy_timeout) instead of failing on a stale snapshot."""
    batches = [
        [
            VerifiedIdentity(DEV, "openid", f"https://id.example/{t}-{n}", f"u{t}-{n}")
            for n in range(60)
        ]
        for t in range(4)
    ]
    sessions, clock, tokens = SqlSessions(engine), SystemClock(), SecretsTokenSource()

    def log_in_all(batch):
        for verified in batch:
            complete_sign_in(
                verified,
                remember=False,
                uow=SqlAlchemyUnitOfWork(engine, writing=True),
                sessions=sessions,
                clock=clock,
                tokens=tokens,
                policy=SessionPolicy(),
            )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(log_in_all, batches))
    assert len(all_users(engine)) == 240
