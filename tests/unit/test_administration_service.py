"""The operator's service, `Administration` (the CLI), through the fakes."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.administration import Administration, Cleanup
from domain.audit import Recorder
from domain.errors import UserNotFound
from domain.model import (
    Device,
    ParkedAnswer,
    Session,
    SessionPolicy,
    SignIn,
    WaitingIdentity,
)
from domain.sessions import current_user
from tests.fakes import (
    FakeAuditTrail,
    FakeClock,
    FakeSessions,
    FakeSingleUse,
    FakeUnitOfWork,
)

CLI = Device()  # nothing outside a request: no browser, no address


@pytest.fixture
def parked() -> FakeSingleUse:
    return FakeSingleUse()


@pytest.fixture
def pending() -> FakeSingleUse:
    return FakeSingleUse()


def make_administration(uow, sessions, sign_ins, parked, pending, audit, clock):
    return Administration(
        unit_of_work=lambda: uow,
        writing_unit_of_work=lambda: uow,
        sessions=sessions,
        sign_ins=sign_ins,
        parked=parked,
        waiting=pending,
        audit=audit,
        recorder=Recorder(audit, lambda: CLI, clock),
        clock=clock,
    )


@pytest.fixture
def administration(uow, sessions, sign_ins, parked, pending, audit, clock) -> Administration:
    return make_administration(uow, sessions, sign_ins, parked, pending, audit, clock)


def is_active(uow, user_id: int) -> bool:
    with uow:
        return uow.users.get(user_id).active


def sessions_of(sessions, user_id: int) -> int:
    return len(sessions.of_user(user_id))


def recorded(audit) -> list[tuple]:
    return [(e.kind, e.user_id, e.detail) for e in audit.recorded]


def test_the_users_are_listed_oldest_first(administration, sign_in):
    made = [sign_in(name, nickname=name).user for name in ["carol", "alice", "bob"]]
    assert list(administration.users()) == made


def test_disabling_signs_the_account_out_everywhere_and_leaves_others_signed_in(
    administration, sign_in, uow, sessions, audit, clock
):
    alice = sign_in("alice", nickname="alice")
    sign_in("alice")
    bob = sign_in("bob", nickname="bob")
    assert administration.disable("alice") == alice.user
    assert not is_active(uow, alice.user.id)
    assert sessions_of(sessions, alice.user.id) == 0
    assert sessions_of(sessions, bob.user.id) == 1
    assert recorded(audit) == [("account.disabled", alice.user.id, None)]


def test_a_disabled_account_stays_signed_out_even_with_a_session_left_behind(
    administration, sign_in, uow, sessions, clock
):
    alice = sign_in("alice", nickname="alice")
    administration.disable("alice")
    sessions.add(alice.session)  # a copy that escaped the sweep
    policy = SessionPolicy()
    assert current_user(alice.token, sessions=sessions, clock=clock, policy=policy) is None


def test_enabling_lets_the_account_in_again(administration, sign_in, uow, audit):
    alice = sign_in("alice", nickname="alice").user
    administration.disable("alice")
    assert administration.enable("alice").id == alice.id
    assert is_active(uow, alice.id)
    assert sign_in("alice").user.id == alice.id
    assert [kind for kind, *_ in recorded(audit)] == ["account.disabled", "account.enabled"]


def test_an_operator_names_an_account_in_any_case(administration, sign_in, uow):
    alice = sign_in("alice", nickname="Alice").user
    administration.disable("ALICE")
    assert not is_active(uow, alice.id)


@pytest.mark.parametrize(
    "action",
    [
        lambda admin: admin.disable("nobody"),
        lambda admin: admin.enable("nobody"),
        lambda admin: admin.revoke_sessions("nobody"),
        lambda admin: admin.audit(nickname="nobody"),
    ],
    ids=["disable", "enable", "revoke_sessions", "audit"],
)
def test_an_account_that_is_not_there_is_said_to_be_missing(administration, sign_in, audit, action):
    sign_in("alice", nickname="alice")
    with pytest.raises(UserNotFound):
        action(administration)
    assert audit.recorded == []


def test_revoking_an_accounts_sessions_ends_them_all_and_says_how_many(
    administration, sign_in, uow, sessions, audit
):
    alice = sign_in("alice", nickname="alice")
    sign_in("alice")
    bob = sign_in("bob", nickname="bob")
    assert administration.revoke_sessions("alice") == (alice.user, 2)
    assert sessions_of(sessions, alice.user.id) == 0
    assert sessions_of(sessions, bob.user.id) == 1
    assert is_active(uow, alice.user.id), "revoking sessions does not disable"
    assert recorded(audit) == [
        ("account.signed_out_everywhere", alice.user.id, "2 sessions, by an operator")
    ]


def test_operator_actions_are_recorded_at_their_time_without_a_browser(
    administration, sign_in, audit, clock
):
    sign_in("alice", nickname="alice")
    administration.disable("alice")
    clock.advance(timedelta(minutes=1))
    administration.enable("alice")
    assert [(e.at, e.user_agent, e.client_address) for e in audit.recorded] == [
        (clock.now() - timedelta(minutes=1), None, None),
        (clock.now(), None, None),
    ]


def test_the_audit_gives_every_event_or_one_accounts_or_those_since_a_moment(
    administration, sign_in, audit, clock
):
    alice = sign_in("alice", nickname="alice").user
    bob = sign_in("bob", nickname="bob").user
    administration.disable("alice")
    clock.advance(timedelta(hours=1))
    since = clock.now()
    administration.disable("bob")
    administration.enable("alice")
    events = [(e.kind, e.user_id) for e in administration.audit()]
    assert events == [
        ("account.disabled", alice.id),
        ("account.disabled", bob.id),
        ("account.enabled", alice.id),
    ]
    of_alice = [(e.kind, e.user_id) for e in administration.audit(nickname="Alice")]
    assert of_alice == [("account.disabled", alice.id), ("account.enabled", alice.id)]
    later = [(e.kind, e.user_id) for e in administration.audit(since=since)]
    assert later == [("account.disabled", bob.id), ("account.enabled", alice.id)]


# Cleaning up what has expired


def fill_stores(sessions, sign_ins, parked, pending, clock, expired, live):
    """`expired` rows that ended an hour ago and `live` rows that end in an hour, in each of
    the four stores."""
    now = clock.now()
    for n in range(expired + live):
        ends = now - timedelta(hours=1) if n < expired else now + timedelta(hours=1)
        begun = ends - timedelta(minutes=10)
        sessions.add(Session(f"session-{n}", 1, False, begun, begun, ends))
        sign_ins.put(SignIn(f"login-{n}", "dev", None, False, begun, ends))
        parked.put(ParkedAnswer(f"parked-{n}", "dev", {}, ends))
        pending.put(WaitingIdentity(f"waiting-{n}", 1, "dev", "openid", f"id-{n}", ends))


@given(expired=st.integers(0, 6), live=st.integers(0, 6))
def test_cleaning_up_removes_every_expired_row_keeps_the_live_ones_and_counts_them(expired, live):
    uow, clock = FakeUnitOfWork(), FakeClock()
    sessions = FakeSessions(uow.database)
    sign_ins, parked, pending = (
        FakeSingleUse(),
        FakeSingleUse(),
        FakeSingleUse(),
    )
    fill_stores(sessions, sign_ins, parked, pending, clock, expired, live)
    administration = make_administration(
        uow, sessions, sign_ins, parked, pending, FakeAuditTrail(), clock
    )
    assert administration.clean_up() == Cleanup(expired, expired, expired, expired)
    left = [sessions.sessions, sign_ins.items, parked.items, pending.items]
    assert [len(store) for store in left] == [live] * 4
    assert all(not row.is_expired(clock.now()) for store in left for row in store.values())
