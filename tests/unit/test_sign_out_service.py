"""Signing out where it reaches the provider (domain/sign_out.py): Logout that sends the
browser on to the provider, and a provider's logout notice that ends sessions here."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.audit import Recorder
from domain.errors import LogoutNoticeRefused, ProviderUnavailable
from domain.model import Device, ProviderPolicy, SessionPolicy, VerifiedIdentity, hash_token
from domain.provisioning import complete_sign_in
from domain.sessions import current_user
from domain.sign_out import KeptSignOut, SignedOut, SignOutService
from tests.fakes import (
    FakeAuditTrail,
    FakeClock,
    FakeSessions,
    FakeSignOut,
    FakeSingleUse,
    FakeTokenSource,
    FakeUnitOfWork,
)

CORP = ProviderPolicy("corp")


class World:
    def __init__(self, sign_out: FakeSignOut | None = None, **more: FakeSignOut) -> None:
        self.uow = FakeUnitOfWork()
        self.sessions = FakeSessions(self.uow.database)
        self.clock, self.tokens, self.audit = FakeClock(), FakeTokenSource(), FakeAuditTrail()
        self.seen = FakeSingleUse()
        self.sign_out = sign_out or FakeSignOut()
        self.service = SignOutService(
            sign_outs={"corp": self.sign_out, **more},
            return_url=lambda key: f"https://microblog.example/logout/return/{key}",
            sessions=self.sessions,
            seen_notices=self.seen,
            recorder=Recorder(self.audit, Device, self.clock),
            clock=self.clock,
            tokens=self.tokens,
        )

    def sign_in(self, subject="alice-sub", sid="sid-1", provider=CORP, remember=True):
        verified = VerifiedIdentity(
            provider,
            "https://id.example",
            subject,
            nickname=subject.split("-")[0],
            provider_session_id=sid,
            logout_hint=f"id-token-of-{subject}",
        )
        return complete_sign_in(
            verified,
            remember=remember,
            uow=self.uow,
            sessions=self.sessions,
            clock=self.clock,
            tokens=self.tokens,
            policy=SessionPolicy(),
        )

    def signed_in(self, token):
        user = current_user(token, sessions=self.sessions, clock=self.clock, policy=SessionPolicy())
        return user.nickname if user else None

    def notice(self, **claims):
        return {"jti": f"jti-{len(self.seen.items)}", **claims}


@pytest.fixture
def world():
    return World()


def test_a_session_remembers_where_it_came_from_and_keeps_the_hint_out_of_its_repr(world):
    signed_in = world.sign_in()
    session = world.sessions.get(hash_token(signed_in.token))
    assert (session.provider, session.namespace, session.subject) == (
        "corp",
        "https://id.example",
        "alice-sub",
    )
    assert (session.provider_session_id, session.logout_hint) == ("sid-1", "id-token-of-alice-sub")
    assert "id-token-of" not in repr(session)


def test_logout_ends_the_session_then_sends_the_browser_to_the_provider_with_its_hint(world):
    signed_in = world.sign_in()
    signed_out = world.service.log_out(signed_in.token)
    assert world.signed_in(signed_in.token) is None
    assert signed_out.provider == "corp" and signed_out.state
    assert signed_out.provider_url == f"https://fake.example/end?state={signed_out.state}"
    assert world.sign_out.asked == [
        {
            "logout_hint": "id-token-of-alice-sub",
            "return_to": "https://microblog.example/logout/return/corp",
            "state": signed_out.state,
        }
    ]
    assert world.audit.kinds() == ["session.ended"]


def test_logout_stays_local_when_the_provider_has_no_end_session_page(world):
    world.sign_out.end_session_url = None
    signed_in = world.sign_in()
    assert world.service.log_out(signed_in.token) == SignedOut()
    assert world.signed_in(signed_in.token) is None


def test_logout_stays_local_when_the_provider_cannot_be_reached(world):
    world.sign_out.trouble = ProviderUnavailable()
    signed_in = world.sign_in()
    assert world.service.log_out(signed_in.token) == SignedOut()
    assert world.signed_in(signed_in.token) is None and world.audit.kinds() == ["session.ended"]


def test_logout_of_a_session_from_another_provider_or_from_before_stays_local(world):
    other = world.sign_in(provider=ProviderPolicy("openid"))
    assert world.service.log_out(other.token) == SignedOut()
    old = world.sign_in(subject="bob-sub")
    session = world.sessions.get(hash_token(old.token))
    world.sessions.sessions[session.token_hash] = type(session)(
        session.token_hash,
        session.user_id,
        session.remember,
        session.created_at,
        session.last_seen_at,
        session.expires_at,
    )
    assert world.service.log_out(old.token) == SignedOut()
    assert world.sign_out.asked == []


def test_logout_without_a_session_does_nothing(world):
    assert world.service.log_out(None) == SignedOut()
    assert world.service.log_out("no-such-token") == SignedOut()
    assert world.audit.kinds() == []


def test_coming_back_counts_only_with_the_state_kept_for_that_provider(world):
    kept = KeptSignOut("corp", "the-state")
    assert world.service.came_back("corp", kept, "the-state")
    assert not world.service.came_back("corp", kept, "another-state")
    assert not world.service.came_back("corp", kept, None)
    assert not world.service.came_back("corp", kept, "")
    assert not world.service.came_back("corp", None, "the-state")
    assert not world.service.came_back("other", kept, "the-state")


@given(st.text(), st.text())
def test_coming_back_with_any_other_state_does_not_count(kept_state, answered):
    service = World().service
    counted = service.came_back("corp", KeptSignOut("corp", kept_state), answered)
    assert counted == (bool(answered) and answered == kept_state)


def test_a_notice_with_a_provider_session_ends_only_its_sessions_remember_me_included(world):
    alice = world.sign_in()
    alice_phone = world.sign_in(sid="sid-2")
    bob = world.sign_in("bob-sub", sid="sid-b")
    assert world.service.end_sessions_from_provider("corp", world.notice(sid="sid-1")) == 1
    assert world.signed_in(alice.token) is None
    assert (world.signed_in(alice_phone.token), world.signed_in(bob.token)) == ("alice", "bob")
    [event] = [e for e in world.audit.recorded if e.kind == "session.ended_by_provider"]
    assert (event.user_id, event.provider, event.detail) == (alice.user.id, "corp", "1 sessions")


def test_a_notice_with_only_a_subject_ends_every_session_of_it_at_that_provider(world):
    alice, alice_phone = world.sign_in(), world.sign_in(sid="sid-2")
    elsewhere = world.sign_in(provider=ProviderPolicy("other"))
    bob = world.sign_in("bob-sub", sid="sid-b")
    assert world.service.end_sessions_from_provider("corp", world.notice(sub="alice-sub")) == 2
    assert [world.signed_in(s.token) for s in (alice, alice_phone)] == [None, None]
    assert (world.signed_in(elsewhere.token), world.signed_in(bob.token)) == ("alice", "bob")


def test_a_notice_for_sessions_that_ended_already_ends_nothing_and_is_no_error(world):
    assert world.service.end_sessions_from_provider("corp", world.notice(sid="gone")) == 0
    assert world.audit.kinds() == []


def test_a_notice_is_acted_on_once(world):
    alice = world.sign_in()
    notice = world.notice(sid="sid-1")
    world.service.end_sessions_from_provider("corp", notice)
    again = world.sign_in()  # the same provider session signs in again
    with pytest.raises(LogoutNoticeRefused, match="used already"):
        world.service.end_sessions_from_provider("corp", notice)
    assert world.signed_in(again.token) == "alice" and world.signed_in(alice.token) is None


def test_the_same_notice_id_from_two_providers_counts_once_for_each():
    world = World(other=FakeSignOut())
    world.service.end_sessions_from_provider("corp", {"jti": "j", "sid": "s"})
    world.service.end_sessions_from_provider("other", {"jti": "j", "sid": "s"})
    assert len(world.seen.items) == 2


def test_a_notice_is_remembered_as_long_as_it_could_be_accepted(world):
    until = world.clock.now() + timedelta(minutes=11)
    world.service.end_sessions_from_provider(
        "corp", {"jti": "j", "sid": "s", "until": until.isoformat()}
    )
    [seen] = world.seen.items.values()
    assert seen.expires_at == until and "j" not in seen.key


def test_a_notice_for_an_unknown_provider_or_one_that_sends_none_is_refused(world):
    with pytest.raises(LogoutNoticeRefused):
        world.service.end_sessions_from_provider("openid", world.notice(sid="sid-1"))


def test_a_refused_notice_ends_nothing(world):
    alice = world.sign_in()
    with pytest.raises(LogoutNoticeRefused):
        world.service.end_sessions_from_provider("corp", {"sid": "sid-1"})
    assert world.signed_in(alice.token) == "alice" and world.seen.items == {}
