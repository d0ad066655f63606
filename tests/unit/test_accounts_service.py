"""The account page's service, `Accounts`, through the fakes."""

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given

from domain.account import Accounts, LinkedIdentity
from domain.audit import Recorder
from domain.errors import (
    DomainError,
    InvalidInput,
    LastIdentity,
    NicknameLooksTaken,
    NicknameMixesScripts,
    NicknameTaken,
    NotYours,
    RecentSignInRequired,
)
from domain.model import (
    Identity,
    NewUser,
    ProviderPolicy,
    VerifiedIdentity,
    hash_token,
)
from domain.nicknames import normalise_nickname
from domain.provisioning import connect_identity, provision
from domain.round_trips import ProviderChoice, RoundTrips
from tests.fakes import (
    FakeAuditTrail,
    FakeClock,
    FakeIdentityProvider,
    FakeSessions,
    FakeSingleUse,
    FakeUnitOfWork,
)
from tests.strategies import nickname_texts
from tests.unit.conftest import ORIGIN


def make_accounts(uow, sessions, audit, clock) -> Accounts:
    return Accounts(
        providers={"dev": FakeIdentityProvider(ProviderPolicy("dev"), name="Dev")},
        unit_of_work=lambda: uow,
        writing_unit_of_work=lambda: uow,
        sessions=sessions,
        recorder=Recorder(audit, lambda: ORIGIN, clock),
        clock=clock,
        unrecorded_provider="Legacy",
    )


@pytest.fixture
def accounts(uow, sessions, audit, clock) -> Accounts:
    return make_accounts(uow, sessions, audit, clock)


@pytest.fixture
def link(uow, clock):
    """Links one more identity, at `provider`, to an account."""

    def link(user_id: int, subject: str, provider: str = "other") -> None:
        verified = VerifiedIdentity(ProviderPolicy(provider), "openid", subject)
        assert connect_identity(uow, user_id, verified, clock)

    return link


def nickname_of(uow, user_id: int) -> str:
    with uow:
        return uow.users.get(user_id).nickname


def identities_of(uow, user_id: int) -> set[str]:
    with uow:
        return {i.subject for i in uow.identities.of_user(user_id)}


def recorded(audit) -> list[tuple]:
    return [(e.kind, e.user_id, e.provider, e.detail) for e in audit.recorded]


# The overview


def test_the_overview_shows_the_account_its_identities_and_its_live_devices_newest_first(
    accounts, sign_in, uow, clock
):
    oldest = sign_in("alice-at-dev", nickname="alice")
    clock.advance(timedelta(hours=13))  # the first session has expired by now
    middle = sign_in("alice-at-dev")
    clock.advance(timedelta(minutes=1))
    newest = sign_in("alice-at-dev")
    sign_in("bob-at-dev", nickname="bob")
    overview = accounts.overview(newest.user.id, middle.token)
    assert overview.user == newest.user == oldest.user
    assert overview.devices == [newest.session, middle.session]
    assert overview.current_device == hash_token(middle.token)
    assert [(login.provider_name, login.subject) for login in overview.identities] == [
        ("Dev", "alice-at-dev")
    ]
    assert overview.choices == [ProviderChoice("dev", "Dev", True)]


def test_an_identity_is_named_by_its_provider_or_else_its_key_or_else_the_name_given(
    accounts, sign_in, link, uow, clock
):
    alice = sign_in("alice-at-dev", nickname="alice").user
    link(alice.id, "alice-at-gone", provider="gone")  # a provider no longer configured
    with uow:
        uow.identities.add(Identity("openid", "alice-long-ago", alice.id))  # no provider kept
        uow.commit()
    assert sorted(accounts.overview(alice.id, "any").identities, key=lambda i: i.subject) == [
        LinkedIdentity("Dev", "openid", "alice-at-dev", clock.now(), clock.now(), "dev"),
        LinkedIdentity("gone", "openid", "alice-at-gone", clock.now(), clock.now(), "gone"),
        LinkedIdentity("Legacy", "openid", "alice-long-ago", None, None),
    ]


def test_an_identity_shows_the_handle_its_provider_gave_it_at_its_last_sign_in(
    accounts, uow, clock
):
    first = VerifiedIdentity(
        ProviderPolicy("dev"), "https://github.example", "583231", "octocat", handle="octocat"
    )
    user = provision(uow, first, clock)
    renamed = replace(first, nickname="monalisa", handle="monalisa")
    assert provision(uow, renamed, clock) == user
    overview = accounts.overview(user.id, "any")
    [linked] = overview.identities
    assert (linked.provider, linked.subject, linked.handle) == ("dev", "583231", "monalisa")
    assert overview.user.nickname == "octocat"


def test_the_overview_of_an_account_that_is_not_there_is_refused(accounts):
    with pytest.raises(NotYours):
        accounts.overview(404, "token")


# Renaming


def test_a_new_nickname_is_kept_normalised_and_the_change_recorded(accounts, sign_in, uow, audit):
    alice = sign_in("alice", nickname="alice").user
    assert accounts.rename(alice.id, "  Alice \u200b Smith\t") == "Alice Smith"
    assert nickname_of(uow, alice.id) == "Alice Smith"
    assert recorded(audit) == [("nickname.changed", alice.id, None, None)]


def test_another_accounts_nickname_is_refused_in_any_case(accounts, sign_in, uow, audit):
    alice = sign_in("alice", nickname="alice").user
    sign_in("bob", nickname="bob")
    with pytest.raises(NicknameTaken):
        accounts.rename(alice.id, "BOB")
    assert nickname_of(uow, alice.id) == "alice"
    assert audit.recorded == []


def test_a_nickname_that_only_looks_like_another_accounts_is_refused(accounts, sign_in, uow):
    alice = sign_in("alice", nickname="alice").user
    sign_in("admin", nickname="admin")
    with pytest.raises(NicknameLooksTaken):
        accounts.rename(alice.id, "adrnin")
    assert nickname_of(uow, alice.id) == "alice"


def test_a_nickname_mixing_scripts_in_a_word_is_refused(accounts, sign_in, uow):
    alice = sign_in("alice", nickname="alice").user
    with pytest.raises(NicknameMixesScripts):
        accounts.rename(alice.id, "b\u043eb")  # a Cyrillic o
    assert nickname_of(uow, alice.id) == "alice"


def test_a_nickname_with_nothing_visible_is_refused(accounts, sign_in, uow):
    alice = sign_in("alice", nickname="alice").user
    with pytest.raises(InvalidInput):
        accounts.rename(alice.id, " \u200b\u202e ")
    assert nickname_of(uow, alice.id) == "alice"


def test_ones_own_nickname_may_change_case(accounts, sign_in, uow):
    alice = sign_in("alice", nickname="alice").user
    assert accounts.rename(alice.id, "ALICE") == "ALICE"
    assert nickname_of(uow, alice.id) == "ALICE"


@given(wanted=nickname_texts)
def test_a_rename_keeps_the_normalised_nickname_or_refuses_and_changes_nothing(wanted):
    uow, clock, audit = FakeUnitOfWork(), FakeClock(), FakeAuditTrail()
    sessions = FakeSessions(uow.database)
    accounts = make_accounts(uow, sessions, audit, clock)
    with uow:
        alice = uow.users.add(NewUser("alice", None, clock.now()))
        uow.users.add(NewUser("bob", None, clock.now()))
        uow.commit()
    try:
        renamed = accounts.rename(alice.id, wanted)
    except DomainError:
        assert nickname_of(uow, alice.id) == "alice"
        assert audit.recorded == []
    else:
        assert renamed == normalise_nickname(wanted) == nickname_of(uow, alice.id)
        assert audit.kinds() == ["nickname.changed"]


# Disconnecting an identity


def test_disconnecting_removes_that_identity_names_its_provider_and_is_recorded(
    accounts, sign_in, link, uow, audit
):
    alice = sign_in("alice-at-dev", nickname="alice")
    link(alice.user.id, "alice-at-other")
    assert accounts.disconnect(alice.token, "openid", "alice-at-dev") == "Dev"
    assert identities_of(uow, alice.user.id) == {"alice-at-other"}
    assert recorded(audit) == [("identity.disconnected", alice.user.id, "dev", None)]


def test_disconnecting_needs_a_sign_in_within_the_last_ten_minutes(
    accounts, sign_in, link, uow, clock
):
    alice = sign_in("alice-at-dev", nickname="alice")
    link(alice.user.id, "alice-at-other")
    clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(RecentSignInRequired):
        accounts.disconnect(alice.token, "openid", "alice-at-dev")
    assert identities_of(uow, alice.user.id) == {"alice-at-dev", "alice-at-other"}


@pytest.mark.parametrize("token", [None, "", "never-issued"])
def test_disconnecting_without_a_session_is_refused(accounts, sign_in, link, uow, token):
    alice = sign_in("alice-at-dev", nickname="alice").user
    link(alice.id, "alice-at-other")
    with pytest.raises(RecentSignInRequired):
        accounts.disconnect(token, "openid", "alice-at-dev")
    assert identities_of(uow, alice.id) == {"alice-at-dev", "alice-at-other"}


def test_the_last_linked_identity_is_kept(accounts, sign_in, uow, audit):
    alice = sign_in("alice-at-dev", nickname="alice")
    with pytest.raises(LastIdentity):
        accounts.disconnect(alice.token, "openid", "alice-at-dev")
    assert identities_of(uow, alice.user.id) == {"alice-at-dev"}
    assert audit.recorded == []


def test_another_accounts_identity_cannot_be_disconnected(accounts, sign_in, link, uow):
    alice = sign_in("alice-at-dev", nickname="alice")
    link(alice.user.id, "alice-at-other")
    bob = sign_in("bob-at-dev", nickname="bob").user
    link(bob.id, "bob-at-other")
    with pytest.raises(NotYours):
        accounts.disconnect(alice.token, "openid", "bob-at-dev")
    assert identities_of(uow, bob.id) == {"bob-at-dev", "bob-at-other"}


# Devices (sessions)


def test_ending_a_device_signs_out_that_session_alone(accounts, sign_in, sessions, audit):
    here = sign_in("alice", nickname="alice")
    there = sign_in("alice")
    accounts.end_device(here.user.id, there.session.token_hash)
    assert set(sessions.sessions) == {here.session.token_hash}
    assert recorded(audit) == [("device.ended", here.user.id, None, None)]


@pytest.mark.parametrize("whose", ["another account's", "no one's"])
def test_only_ones_own_devices_can_be_ended(accounts, sign_in, sessions, audit, whose):
    alice = sign_in("alice", nickname="alice")
    bob = sign_in("bob", nickname="bob")
    target = bob.session.token_hash if whose == "another account's" else hash_token("nothing")
    with pytest.raises(NotYours):
        accounts.end_device(alice.user.id, target)
    assert set(sessions.sessions) == {alice.session.token_hash, bob.session.token_hash}
    assert audit.recorded == []


def test_ending_the_other_devices_keeps_this_one_and_other_accounts(
    accounts, sign_in, sessions, audit
):
    here = sign_in("alice", nickname="alice")
    sign_in("alice")
    sign_in("alice")
    bob = sign_in("bob", nickname="bob")
    assert accounts.end_other_devices(here.user.id, here.token) == 2
    assert set(sessions.sessions) == {here.session.token_hash, bob.session.token_hash}
    assert recorded(audit) == [("device.ended_others", here.user.id, None, "2 sessions")]


def test_account_events_are_stamped_with_the_time_and_where_they_came_from(
    accounts, sign_in, clock, audit
):
    alice = sign_in("alice", nickname="alice")
    accounts.rename(alice.user.id, "Alicia")
    accounts.end_other_devices(alice.user.id, alice.token)
    assert {(e.at, e.user_agent, e.client_address) for e in audit.recorded} == {
        (clock.now(), ORIGIN.user_agent, ORIGIN.client_address)
    }


# Connecting another identity starts on the account page (a round trip of `RoundTrips`)


def make_logins(sessions, clock, tokens, sign_ins) -> RoundTrips:
    return RoundTrips(
        providers={"dev": FakeIdentityProvider(ProviderPolicy("dev"), name="Dev")},
        return_url=lambda key: f"https://microblog.example/login/return/{key}",
        sign_ins=sign_ins,
        parked=FakeSingleUse(),
        sessions=sessions,
        clock=clock,
        tokens=tokens,
    )


def test_connecting_comes_back_to_the_page_it_is_given_for_the_account_signed_in(
    sign_in, uow, sessions, clock, tokens
):
    sign_ins = FakeSingleUse()
    logins = make_logins(sessions, clock, tokens, sign_ins)
    alice = sign_in("alice", nickname="alice")
    started = logins.begin_connect("dev", alice.token, identifier=None, next_url="/account")
    kept = sign_ins.items[started.sign_in_id]
    assert (kept.next_url, kept.connect_user_id, kept.remember) == (
        "/account",
        alice.user.id,
        False,
    )


def test_connecting_needs_a_sign_in_within_the_last_ten_minutes(
    sign_in, uow, sessions, clock, tokens
):
    sign_ins = FakeSingleUse()
    logins = make_logins(sessions, clock, tokens, sign_ins)
    alice = sign_in("alice", nickname="alice")
    clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(RecentSignInRequired):
        logins.begin_connect("dev", alice.token, identifier=None, next_url="/account")
    assert sign_ins.items == {}
