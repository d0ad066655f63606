from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from domain.administration import disable_user, enable_user
from domain.errors import (
    AccountDisabled,
    EmailRequired,
    IdentityBelongsToAnotherAccount,
    InvalidInput,
    LastIdentity,
    NicknameMixesScripts,
    NicknameTaken,
)
from domain.inputs import normalise_email
from domain.model import SessionPolicy, VerifiedIdentity, hash_token
from domain.nicknames import is_mixed_script, nickname_key, normalise_nickname
from domain.ports import Sessions, UnitOfWork
from domain.provisioning import (
    IdentityMustWait,
    complete_sign_in,
    connect_identity,
    disconnect_identity,
    rename_user,
)
from domain.sessions import current_user, log_out, log_out_everywhere
from tests.fakes import FakeClock, FakeTokenSource
from tests.strategies import STEAM, UNTRUSTED, emails, namespaces, nicknames, policies, subjects
from tests.unit.test_nicknames import is_valid_nickname


class ProvisioningMachine(RuleBasedStateMachine):
    """Interleaves logins of many identities from several providers with logouts, disables
    and re-enables, and checks the provisioning rules after every step.

    Subclasses say which unit of work and session store to check (`make_ports`).
    """

    tokens = Bundle("tokens")

    def __init__(self) -> None:
        super().__init__()
        self.uow, self.sessions = self.make_ports()
        self.clock = FakeClock()
        self.token_source = FakeTokenSource()
        self.policy = SessionPolicy()
        self.owner_of_identity: dict[tuple[str, str], int] = {}
        self.disabled: set[int] = set()
        self.live_tokens: dict[str, int] = {}
        self.dead_tokens: set[str] = set()
        # Identities waiting for the account that owns their email (IdentityMustWait).
        self.waiting: list[tuple[int, VerifiedIdentity]] = []
        self.newcomers = 0

    def make_ports(self) -> tuple[UnitOfWork, Sessions]:
        raise NotImplementedError

    def users(self):
        with self.uow:
            return {user.id: user for user in self.uow.users.list()}

    @rule(
        target=tokens,
        policy=policies,
        namespace=namespaces,
        subject=subjects,
        nickname=nicknames,
        email=emails,
        email_verified=st.booleans(),
        remember=st.booleans(),
    )
    def log_in(self, policy, namespace, subject, nickname, email, email_verified, remember):
        verified = VerifiedIdentity(policy, namespace, subject, nickname, email, email_verified)
        before = self.users()
        known_owner = self.owner_of_identity.get((namespace, subject))
        normalised_email = normalise_email(email)
        email_owner = next(
            (
                u
                for u in before.values()
                if normalised_email and email_verified and u.email == normalised_email
            ),
            None,
        )
        try:
            signed_in = complete_sign_in(
                verified,
                remember=remember,
                uow=self.uow,
                sessions=self.sessions,
                clock=self.clock,
                tokens=self.token_source,
                policy=self.policy,
            )
        except (AccountDisabled, EmailRequired) as refused:
            self.check_refusal(refused, verified, known_owner, email_owner)
            assert self.users() == before, "a refused login wrote nothing"
            return multiple()
        if isinstance(signed_in, IdentityMustWait):
            assert known_owner is None and email_owner is not None, "rule 6: only a verified email"
            assert not policy.trusted_for_email and signed_in.owner_id == email_owner.id
            assert self.users() == before, "a waiting identity wrote nothing"
            self.waiting.append((signed_in.owner_id, verified))
            return multiple()
        user = signed_in.user
        if known_owner is not None:
            assert user.id == known_owner, "rule 1: the same identity, the same user"
        elif email_owner is not None:
            assert verified.email_is_trusted and user.id == email_owner.id, "rule 2"
        else:
            assert user.id not in before, "rule 3: a new identity makes a new user"
        assert user.id not in self.disabled
        self.owner_of_identity[(namespace, subject)] = user.id
        self.live_tokens[signed_in.token] = user.id
        return signed_in.token

    def check_refusal(self, refused, verified, known_owner, email_owner):
        if isinstance(refused, AccountDisabled):
            owner = known_owner if known_owner is not None else getattr(email_owner, "id", None)
            assert owner in self.disabled
        else:
            assert known_owner is None and verified.policy.email_required
            assert normalise_email(verified.email) is None

    @precondition(lambda self: self.owner_of_identity)
    @rule(data=st.data(), namespace=namespaces, subject=subjects, policy=policies)
    def connect(self, data, namespace, subject, policy):
        user_id = data.draw(st.sampled_from(sorted(set(self.owner_of_identity.values()))))
        verified = VerifiedIdentity(policy, namespace, subject)
        owner = self.owner_of_identity.get((namespace, subject))
        try:
            added = connect_identity(self.uow, user_id, verified, self.clock)
        except IdentityBelongsToAnotherAccount:
            assert owner is not None and owner != user_id, "refused only for another's identity"
            return
        assert added == (owner is None)
        assert owner in (None, user_id), "an identity never moves to another user"
        self.owner_of_identity[(namespace, subject)] = user_id

    @precondition(lambda self: any(user.email for user in self.users().values()))
    @rule(data=st.data(), policy=st.sampled_from([UNTRUSTED, STEAM]))
    def a_new_login_asserts_an_owned_verified_email(self, data, policy):
        owner = data.draw(st.sampled_from([u for u in self.users().values() if u.email]))
        self.newcomers += 1
        verified = VerifiedIdentity(
            policy, "https://issuer.example", f"newcomer-{self.newcomers}", None, owner.email, True
        )
        before = self.users()
        waiting = complete_sign_in(
            verified,
            remember=False,
            uow=self.uow,
            sessions=self.sessions,
            clock=self.clock,
            tokens=self.token_source,
            policy=self.policy,
        )
        assert waiting == IdentityMustWait(owner.id), "rule 6: it waits for the email's account"
        assert self.users() == before
        self.waiting.append((owner.id, verified))

    @precondition(lambda self: self.waiting)
    @rule(data=st.data())
    def owner_signs_in_and_the_waiting_identity_joins(self, data):
        """What SignInService does when the email's owner signs in in the waiting browser and
        confirms."""
        owner_id, verified = self.waiting.pop(data.draw(st.integers(0, len(self.waiting) - 1)))
        holder = self.owner_of_identity.get((verified.namespace, verified.subject))
        try:
            connect_identity(self.uow, owner_id, verified, self.clock)
        except IdentityBelongsToAnotherAccount:
            assert holder not in (None, owner_id), "taken meanwhile by another: it stays there"
            return
        self.owner_of_identity[(verified.namespace, verified.subject)] = owner_id

    @precondition(lambda self: self.owner_of_identity)
    @rule(data=st.data())
    def disconnect(self, data):
        namespace, subject = data.draw(st.sampled_from(sorted(self.owner_of_identity)))
        user_id = self.owner_of_identity[(namespace, subject)]
        held = [key for key, owner in self.owner_of_identity.items() if owner == user_id]
        try:
            disconnect_identity(self.uow, user_id, namespace, subject)
        except LastIdentity:
            assert len(held) == 1, "refused only for the last identity"
            return
        assert len(held) > 1
        del self.owner_of_identity[(namespace, subject)]

    @precondition(lambda self: self.owner_of_identity)
    @rule(data=st.data(), wanted=nicknames)
    def rename(self, data, wanted):
        user_id = data.draw(st.sampled_from(sorted(set(self.owner_of_identity.values()))))
        before = self.users()
        try:
            nickname = rename_user(self.uow, user_id, wanted or "")
        except NicknameTaken:
            others = {nickname_key(u.nickname) for i, u in before.items() if i != user_id}
            assert nickname_key(normalise_nickname(wanted or "")) in others
            return
        except NicknameMixesScripts:
            assert is_mixed_script(normalise_nickname(wanted or ""))
            return
        except InvalidInput:
            assert not normalise_nickname(wanted or "")
            return
        assert self.users()[user_id].nickname == nickname

    @rule(token=tokens)
    def log_out(self, token):
        log_out(token, sessions=self.sessions)
        self.end_sessions(lambda t: t == token)

    @precondition(lambda self: self.owner_of_identity)
    @rule(data=st.data())
    def log_out_everywhere(self, data):
        user_id = data.draw(st.sampled_from(sorted(set(self.owner_of_identity.values()))))
        log_out_everywhere(user_id, sessions=self.sessions)
        self.end_sessions(lambda t: self.live_tokens[t] == user_id)

    @precondition(lambda self: self.owner_of_identity)
    @rule(data=st.data())
    def disable(self, data):
        user_id = data.draw(st.sampled_from(sorted(set(self.owner_of_identity.values()))))
        disable_user(user_id, uow=self.uow, sessions=self.sessions)
        self.disabled.add(user_id)
        self.end_sessions(lambda t: self.live_tokens[t] == user_id)

    @precondition(lambda self: self.disabled)
    @rule(data=st.data())
    def enable(self, data):
        user_id = data.draw(st.sampled_from(sorted(self.disabled)))
        enable_user(user_id, uow=self.uow)
        self.disabled.discard(user_id)

    def end_sessions(self, which):
        for token in [t for t in self.live_tokens if which(t)]:
            del self.live_tokens[token]
            self.dead_tokens.add(token)

    def whoami(self, token):
        return current_user(token, sessions=self.sessions, clock=self.clock, policy=self.policy)

    @invariant()
    def nicknames_are_valid_unique_and_never_look_alike(self):
        users = self.users().values()
        assert all(is_valid_nickname(u.nickname) for u in users)
        assert not any(is_mixed_script(u.nickname) for u in users)
        keys = [nickname_key(u.nickname) for u in users]  # look-alikes share a key
        assert len(keys) == len(set(keys))

    @invariant()
    def emails_are_unique(self):
        emails = [u.email for u in self.users().values() if u.email is not None]
        assert len(emails) == len(set(emails))

    @invariant()
    def identities_map_to_their_users(self):
        with self.uow:
            for (namespace, subject), user_id in self.owner_of_identity.items():
                assert self.uow.identities.owner_of(namespace, subject) == user_id

    @invariant()
    def every_user_keeps_an_identity(self):
        user_ids = list(self.users())
        with self.uow:
            for user_id in user_ids:
                assert self.uow.identities.of_user(user_id), "a user always keeps one"

    @invariant()
    def disabled_users_are_inactive(self):
        users = self.users()
        assert all(not users[user_id].active for user_id in self.disabled)

    @invariant()
    def live_sessions_sign_in_their_user_and_ended_ones_nobody(self):
        for token, user_id in self.live_tokens.items():
            user = self.whoami(token)
            assert user is not None and user.id == user_id
        for token in self.dead_tokens:
            assert self.whoami(token) is None
            assert self.sessions.get(hash_token(token)) is None, "revoked, not just refused"
