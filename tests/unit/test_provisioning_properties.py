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
            world.login(VerifiedIdentity(policy, "openid", f"subject-{index}", nickname, email))
        except LoginRefused:
            continue
    users = world.users()
    assert all(is_valid_nickname(u.nickname) for u in users)
    assert len({nickname_key(u.nickname) for u in users}) == len(users)


@given(
    nicknames,
    st.sampled_from(["alice@example.com", "ALICE@Example.com "]),
    st.sampled_from([(UNTRUSTED, True), (STEAM, True), (TRUSTED, False)]),
)
def test_an_unverified_or_untrusted_email_of_another_account_gets_nothing(
    nickname, email, policy_and_verified
):
    policy, verified = policy_and_verified
    world = World()
    owner = world.login(owner_identity()).user
    try:
        world.login(VerifiedIdentity(policy, "openid", "intruder", nickname, email, verified))
    except EmailBelongsToAnotherAccount:
        pass
    else:
        raise AssertionError("the untrusted login went through")
    assert world.users() == [owner]
    with world.uow:
        assert world.uow.identities.owner_of("openid", "intruder") is None
    assert len(world.sessions.sessions) == 1


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
        return uow, FakeLoginSessions(uow.database)


FakeProvisioningMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None
)
test_provisioning_state_machine_on_fakes = FakeProvisioningMachine.TestCase
