from datetime import timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.administration import disable_user
from domain.audit import Recorder
from domain.errors import IdentityBelongsToAnotherAccount, NothingToConnect, SignInRefused
from domain.model import Device, SessionPolicy, VerifiedIdentity, hash_token
from domain.nicknames import nickname_key
from domain.provisioning import (
    IdentityMustWait,
    IdentityWaits,
    SignedIn,
    complete_sign_in,
    connect_identity,
)
from domain.round_trips import RoundTrips
from domain.sessions import current_user
from domain.sign_in import Browser, SignInService
from tests.fakes import (
    FakeAuditTrail,
    FakeClock,
    FakeIdentityProvider,
    FakeSessions,
    FakeSingleUse,
    FakeTokenSource,
    FakeUnitOfWork,
)
from tests.provisioning_machine import ProvisioningMachine
from tests.strategies import (
    STEAM,
    TRUSTED,
    UNTRUSTED,
    emails,
    nickname_texts,
    nicknames,
    policies,
)
from tests.unit.test_nicknames import is_valid_nickname


class World:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.sessions = FakeSessions(self.uow.database)
        self.clock = FakeClock()
        self.tokens = FakeTokenSource()
        self.policy = SessionPolicy()

    def login(self, verified: VerifiedIdentity, remember: bool = False):
        return complete_sign_in(
            verified,
            remember=remember,
            uow=self.uow,
            sessions=self.sessions,
            clock=self.clock,
            tokens=self.tokens,
            policy=self.policy,
        )

    def users(self):
        with self.uow:
            return list(self.uow.users.list())


def owner_identity():
    return VerifiedIdentity(TRUSTED, "openid", "owner", "owner", "alice@example.com", True)


@given(st.lists(st.tuples(policies, nicknames, emails, st.booleans()), min_size=1, max_size=6))
def test_the_same_identity_always_yields_the_same_user_whichever_provider_brings_it(assertions):
    world = World()
    first = None
    for policy, nickname, email, verified in assertions:
        try:
            identity = VerifiedIdentity(
                policy, "openid", "https://id.example/me", nickname, email, verified
            )
            user = world.login(identity)
        except SignInRefused as refused:
            assert first is None, f"a known identity was refused: {refused!r}"
            continue
        first = first or user.user
        assert user.user == first
    assert len(world.users()) == (1 if first else 0)


@given(st.lists(st.tuples(policies, nickname_texts, emails), min_size=1, max_size=12))
def test_nicknames_stay_valid_and_unique_whatever_providers_assert(logins):
    world = World()
    for index, (policy, nickname, email) in enumerate(logins):
        try:
            world.login(VerifiedIdentity(policy, "openid", f"subject-{index}", nickname, email))
        except SignInRefused:
            continue
    users = world.users()
    assert all(is_valid_nickname(u.nickname) for u in users)
    assert len({nickname_key(u.nickname) for u in users}) == len(users)


@given(
    nicknames,
    st.sampled_from(["alice@example.com", "ALICE@Example.com "]),
    st.sampled_from([UNTRUSTED, STEAM]),
)
def test_a_verified_email_of_another_account_from_an_untrusted_provider_waits(
    nickname, email, policy
):
    world = World()
    owner = world.login(owner_identity()).user
    waiting = world.login(VerifiedIdentity(policy, "openid", "newcomer", nickname, email, True))
    assert waiting == IdentityMustWait(owner.id)
    assert world.users() == [owner], "nothing written while it waits"
    with world.uow:
        assert world.uow.identities.owner_of("openid", "newcomer") is None
    assert len(world.sessions.sessions) == 1


@given(
    nicknames,
    st.sampled_from(["alice@example.com", "ALICE@Example.com "]),
    policies,
)
def test_an_unverified_email_is_never_looked_up(nickname, email, policy):
    world = World()
    owner = world.login(owner_identity()).user
    stranger = world.login(VerifiedIdentity(policy, "openid", "stranger", nickname, email, False))
    assert isinstance(stranger, SignedIn), "neither refused nor told to wait"
    assert stranger.user.id != owner.id and stranger.user.email is None


@given(nicknames, st.sampled_from(["alice@example.com", "ALICE@Example.com "]))
def test_a_verified_email_from_a_trusted_provider_links_to_its_owner(nickname, email):
    world = World()
    owner = world.login(owner_identity()).user
    linked = world.login(VerifiedIdentity(TRUSTED, "openid", "another", nickname, email, True)).user
    assert linked == owner
    assert len(world.users()) == 1


@given(
    st.lists(st.tuples(st.sampled_from(["me", "you"]), st.booleans()), min_size=1, max_size=8),
    st.sampled_from(["me", "you"]),
)
def test_disabling_a_user_invalidates_all_its_sessions(logins, victim):
    world = World()
    tokens = {
        world.login(VerifiedIdentity(STEAM, "openid", subject, subject), remember).token: subject
        for subject, remember in logins
    }
    owner = {t: world.sessions.get(hash_token(t)).user_id for t in tokens}
    with world.uow:
        victim_id = world.uow.identities.owner_of("openid", victim)
    if victim_id is not None:
        disable_user(victim_id, uow=world.uow, sessions=world.sessions)
    for token, subject in tokens.items():
        user = current_user(token, sessions=world.sessions, clock=world.clock, policy=world.policy)
        if subject == victim:
            assert user is None
            assert world.sessions.get(hash_token(token)) is None
        else:
            assert user is not None and user.id == owner[token]


class FakeProvisioningMachine(ProvisioningMachine):
    def make_ports(self):
        uow = FakeUnitOfWork()
        return uow, FakeSessions(uow.database)


FakeProvisioningMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None
)
test_provisioning_state_machine_on_fakes = FakeProvisioningMachine.TestCase


THEN = [
    "confirms",
    "declines",
    "goes elsewhere",
    "confirms from another session of the owner",
    "confirms with the id it kept before the sign-in",
]


@given(
    next_sign_in=st.sampled_from(["owner", "other account", "nobody"]),
    minutes_later=st.integers(min_value=0, max_value=20),
    same_browser=st.booleans(),
    minutes_to_confirm=st.integers(min_value=0, max_value=20),
)
@settings(deadline=None)  # no timed assertions: the machine may be busy
@pytest.mark.parametrize("then", THEN)  # each: the owner signed in in the waiting browser
@example(next_sign_in="owner", minutes_later=0, same_browser=True, minutes_to_confirm=0)
@example(next_sign_in="owner", minutes_later=9, same_browser=True, minutes_to_confirm=1)
def test_a_waiting_identity_joins_only_its_owner_signing_in_in_that_browser_and_confirming(
    next_sign_in, minutes_later, same_browser, then, minutes_to_confirm
):
    site = LinkingSite()
    owner = site.sign_in("owner", TRUSTED, email="alice@example.com").user
    other = site.sign_in("other", TRUSTED, email="bob@example.com").user
    waiting = site.sign_in("newcomer", UNTRUSTED, email="alice@example.com")
    assert isinstance(waiting, IdentityWaits)
    site.clock.advance(timedelta(minutes=minutes_later))
    browser_link = waiting.waiting_identity_id if same_browser else None
    signed_in = None
    if next_sign_in != "nobody":
        signed_in = site.sign_in(next_sign_in.split()[0], TRUSTED, waiting_identity_id=browser_link)
    offered = signed_in.waiting if signed_in else None
    should_offer = (
        next_sign_in == "owner"
        and same_browser
        and minutes_later < WAITING_IDENTITY_LIFETIME_MINUTES
    )
    assert (offered is not None) == should_offer
    if offered is not None:
        assert (offered.provider_name, offered.subject) == ("Untrusted", "newcomer")
    site.clock.advance(timedelta(minutes=minutes_to_confirm))
    offer = offered.waiting_identity_id if offered else None
    token = signed_in.token if signed_in else None
    if then == "declines":
        site.logins.discard_waiting_identity(offer, token, "declined")
    elif then == "goes elsewhere":
        site.logins.discard_waiting_identity(offer, token, "not confirmed")
    elif then == "confirms from another session of the owner":
        token = site.sign_in("owner", TRUSTED).token
    elif then == "confirms with the id it kept before the sign-in":
        offer = waiting.waiting_identity_id
    confirmed = site.confirm(offer, token)
    joined_to = site.owner_of("newcomer")
    should_join = (
        should_offer
        and then == "confirms"
        and minutes_later + minutes_to_confirm < WAITING_IDENTITY_LIFETIME_MINUTES
    )
    assert confirmed == should_join
    assert joined_to == (owner.id if should_join else None)
    assert joined_to != other.id
    assert site.owner_of("newcomer") is None or site.audit.kinds().count("identity.confirmed") == 1
    assert not site.confirm(offer, token), "an offer is used up by its first answer"
    if should_offer and then in ("confirms", "declines", "goes elsewhere"):
        assert site.waiting.items == {}, "the session that signed in used it up, whatever it did"


def test_any_other_sign_in_in_the_waiting_browser_discards_the_waiting_login():
    site = LinkingSite()
    site.sign_in("owner", TRUSTED, email="alice@example.com")
    site.sign_in("other", TRUSTED, email="bob@example.com")
    waiting = site.sign_in("newcomer", UNTRUSTED, email="alice@example.com")
    signed_in = site.sign_in("other", TRUSTED, waiting_identity_id=waiting.waiting_identity_id)
    assert signed_in.waiting is None and site.waiting.items == {}
    [discarded] = [e for e in site.audit.recorded if e.kind == "identity.discarded"]
    assert (discarded.provider, discarded.detail) == ("untrusted", "another account signed in")


def test_an_expired_waiting_login_is_discarded_at_the_owners_sign_in():
    site = LinkingSite()
    site.sign_in("owner", TRUSTED, email="alice@example.com")
    waiting = site.sign_in("newcomer", UNTRUSTED, email="alice@example.com")
    site.clock.advance(timedelta(minutes=WAITING_IDENTITY_LIFETIME_MINUTES))
    assert (
        site.sign_in("owner", TRUSTED, waiting_identity_id=waiting.waiting_identity_id).waiting
        is None
    )
    assert site.waiting.items == {}
    assert [e.detail for e in site.audit.recorded if e.kind == "identity.discarded"] == ["expired"]


def test_a_waiting_login_connected_elsewhere_meanwhile_is_refused_and_never_moves():
    site = LinkingSite()
    owner = site.sign_in("owner", TRUSTED, email="alice@example.com").user
    other = site.sign_in("other", TRUSTED, email="bob@example.com").user
    waiting = site.sign_in("newcomer", UNTRUSTED, email="alice@example.com")
    signed_in = site.sign_in("owner", TRUSTED, waiting_identity_id=waiting.waiting_identity_id)
    newcomer = VerifiedIdentity(UNTRUSTED, "openid", "newcomer")
    assert connect_identity(site.uow, other.id, newcomer, site.clock)
    with pytest.raises(IdentityBelongsToAnotherAccount):
        site.logins.connect_waiting_identity(signed_in.waiting.waiting_identity_id, signed_in.token)
    assert site.owner_of("newcomer") == other.id != owner.id
    assert "identity.confirmed" not in site.audit.kinds()


def test_the_waiting_login_page_tells_nothing_about_the_account():
    site = LinkingSite()
    site.sign_in("owner", TRUSTED, email="alice@example.com")
    waiting = site.sign_in("newcomer", UNTRUSTED, email="alice@example.com")
    assert waiting == IdentityWaits(waiting.waiting_identity_id)


WAITING_IDENTITY_LIFETIME_MINUTES = 10


class LinkingSite:
    """The login service over fakes, with a provider per policy that vouches for what a test
    asks (the subject, and an email it calls verified)."""

    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.clock = FakeClock()
        self.audit = FakeAuditTrail()
        self.sign_ins = FakeSingleUse()
        self.waiting = FakeSingleUse()
        providers = {
            policy.key: FakeIdentityProvider(policy, name=policy.key.title(), namespace="openid")
            for policy in (TRUSTED, UNTRUSTED)
        }
        sessions = FakeSessions(self.uow.database)
        self.trips = RoundTrips(
            providers=providers,
            return_url=lambda key: f"https://microblog.example/login/return/{key}",
            sign_ins=self.sign_ins,
            parked=FakeSingleUse(),
            sessions=sessions,
            clock=self.clock,
            tokens=FakeTokenSource(),
        )
        self.logins = SignInService(
            round_trips=self.trips,
            waiting=self.waiting,
            unit_of_work=lambda: self.uow,
            sessions=sessions,
            recorder=Recorder(self.audit, Device, self.clock),
            clock=self.clock,
            tokens=FakeTokenSource(),
            policy=SessionPolicy(),
        )

    def sign_in(self, subject, policy, email=None, waiting_identity_id=None):
        started = self.trips.begin(policy.key, identifier=subject, next_url=None, remember=False)
        answer = {"state": started.sign_in_id, "email_verified": "true"}
        answer |= {"email": email} if email else {}
        return self.logins.finish(
            policy.key, Browser(started.sign_in_id, waiting_identity_id), answer
        )

    def confirm(self, offer, token):
        """Whether confirming the offered identity connected it."""
        try:
            self.logins.connect_waiting_identity(offer, token)
        except NothingToConnect:
            return False
        return True

    def owner_of(self, subject):
        with self.uow:
            return self.uow.identities.owner_of("openid", subject)
