from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import EmailBelongsToAnotherAccount, LoginRefused
from domain.model import SessionPolicy, VerifiedIdentity, hash_token
from domain.nicknames import nickname_key
from domain.use_cases import complete_login, current_user, disable_user
from tests.fakes import (
    FakeClock,
    FakeLoginSessions,
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
        self.sessions = FakeLoginSessions(self.uow.database)
        self.clock = FakeClock()
        self.tokens = FakeTokenSource()
        self.policy = SessionPolicy()

    def login(self, verified: VerifiedIdentity, remember: bool = False):
        return complete_login(
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


@given(policies, st.lists(st.tuples(nicknames, emails), min_size=1, max_size=6))
def test_the_same_identity_always_yields_the_same_user(policy, assertions):
    world = World()
    first = None
    for nickname, email in assertions:
        try:
            user = world.login(VerifiedIdentity(policy, "https://id.example/me", nickname, email))
        except LoginRefused as refused:
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
            world.login(VerifiedIdentity(policy, f"subject-{index}", nickname, email))
        except LoginRefused:
            continue
    users = world.users()
    assert all(is_valid_nickname(u.nickname) for u in users)
    assert len({nickname_key(u.nickname) for u in users}) == len(users)


@given(
    nicknames,
    st.sampled_from(["alice@example.com", "ALICE@Example.com "]),
    st.sampled_from([UNTRUSTED, STEAM]),
)
def test_an_untrusted_provider_asserting_an_owned_email_gets_nothing(nickname, email, policy):
    world = World()
    owner = world.login(VerifiedIdentity(TRUSTED, "owner", "owner", "alice@example.com")).user
    try:
        world.login(VerifiedIdentity(policy, "intruder", nickname, email))
    except EmailBelongsToAnotherAccount:
        pass
    else:
        raise AssertionError("the untrusted login went through")
    assert world.users() == [owner]
    with world.uow:
        assert world.uow.identities.owner_of(policy.key, "intruder") is None
    assert len(world.sessions.sessions) == 1


@given(nicknames, st.sampled_from(["alice@example.com", "ALICE@Example.com "]))
def test_a_trusted_provider_links_to_the_owner_of_the_email(nickname, email):
    world = World()
    owner = world.login(VerifiedIdentity(TRUSTED, "owner", "owner", "alice@example.com")).user
    linked = world.login(VerifiedIdentity(TRUSTED, "another", nickname, email)).user
    assert linked == owner
    assert len(world.users()) == 1


@given(
    st.lists(st.tuples(st.sampled_from(["me", "you"]), st.booleans()), min_size=1, max_size=8),
    st.sampled_from(["me", "you"]),
)
def test_disabling_a_user_invalidates_all_its_sessions(logins, victim):
    world = World()
    tokens = {
        world.login(VerifiedIdentity(STEAM, subject, subject), remember).token: subject
        for subject, remember in logins
    }
    owner = {t: world.sessions.get(hash_token(t)).user_id for t in tokens}
    with world.uow:
        victim_id = world.uow.identities.owner_of(STEAM.key, victim)
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
        return uow, FakeLoginSessions(uow.database)


FakeProvisioningMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None
)
test_provisioning_state_machine_on_fakes = FakeProvisioningMachine.TestCase
