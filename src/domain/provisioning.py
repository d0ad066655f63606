"""Provisioning: whose account an identity signs in to, and which identities and nickname an
account has. Completing a sign-in, provisioning, connecting and disconnecting identities,
renaming; a lost race is retried."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from domain.errors import (
    AccountDisabled,
    Conflict,
    EmailRequired,
    IdentityBelongsToAnotherAccount,
    InvalidInput,
    LastIdentity,
    NicknameLooksTaken,
    NicknameMixesScripts,
    NicknameTaken,
    NotYours,
    TooManyConflicts,
    ValueTooLong,
)
from domain.inputs import (
    MAX_HANDLE_LENGTH,
    MAX_NAMESPACE_LENGTH,
    MAX_PROVIDER_SESSION_LENGTH,
    MAX_SUBJECT_LENGTH,
    normalise_email,
)
from domain.model import (
    Device,
    Identity,
    NewUser,
    Session,
    SessionPolicy,
    User,
    VerifiedIdentity,
)
from domain.nicknames import (
    choose_nickname,
    email_local_part,
    is_mixed_script,
    make_unique,
    normalise_nickname,
)
from domain.ports import Clock, Sessions, TokenSource, UnitOfWork

CONFLICT_ATTEMPTS = 10
CONFLICT_BACKOFF_SECONDS = 0.002
# Retries stop well inside a worker's timeout (gunicorn's is 30 s), each waiting at most
# SQLite's 5 s busy timeout.
CONFLICT_BUDGET_SECONDS = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class WaitingIdentityOffer:
    """An identity that waited in this browser for the account just signed in to; connected
    only if the person confirms, under `waiting_identity_id`. Named for them: its provider
    (key and name) and the identity."""

    waiting_identity_id: str
    provider: str
    provider_name: str
    namespace: str
    subject: str
    handle: str | None = None


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    session: Session
    next_url: str | None = None
    waiting: WaitingIdentityOffer | None = (
        None  # the login that waited for this account, to confirm
    )


@dataclass(frozen=True)
class IdentityMustWait:
    """The identity is new and its verified email belongs to `owner_id`'s account, but its
    provider is not trusted for email: only a sign-in to that account may connect it."""

    owner_id: int


@dataclass(frozen=True)
class IdentityWaits:
    """No sign-in: the identity waits under `waiting_identity_id` (kept by this browser) for
    a sign-in to the account that owns its email. Nothing about that account is told."""

    waiting_identity_id: str


@dataclass(frozen=True)
class Connected:
    provider_name: str
    added: bool  # False: it was connected already


# What finishing a sign-in comes to: a session, a waiting identity, or one connected.
SignInOutcome = SignedIn | IdentityWaits | Connected


def complete_sign_in(
    verified: VerifiedIdentity,
    *,
    remember: bool,
    uow: UnitOfWork,
    sessions: Sessions,
    clock: Clock,
    tokens: TokenSource,
    policy: SessionPolicy,
    device: Device | None = None,
) -> SignedIn | IdentityMustWait:
    """Provision or find the identity's user, then open a new login session for it."""
    user = provision(uow, verified, clock)
    if isinstance(user, IdentityMustWait):
        return user
    token = tokens.new_token()
    session = Session.open(token, user.id, remember, clock.now(), policy, device, verified)
    sessions.add(session)
    return SignedIn(user, token, session)


def provision(uow: UnitOfWork, verified: VerifiedIdentity, clock: Clock) -> User | IdentityMustWait:
    """Find or create the user of a verified identity.

    A known identity keeps its user whatever it asserts now. Only a verified email is looked
    up: a new identity whose verified email an account owns joins that account if the
    provider is trusted for email, and otherwise waits for that account (IdentityMustWait,
    nothing written). A lost race is retried.
    """
    return _retrying_conflicts(lambda: _provision_once(uow, verified, clock), clock)


def _retrying_conflicts(attempt: Callable[[], T], clock: Clock) -> T:
    # n logins racing for one nickname need up to n attempts; random pauses spread them out.
    give_up_at = clock.now() + timedelta(seconds=CONFLICT_BUDGET_SECONDS)
    for attempt_number in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except Conflict:
            if clock.now() > give_up_at:
                break
            clock.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * attempt_number))
    raise TooManyConflicts()


def _fits(verified: VerifiedIdentity) -> VerifiedIdentity:
    if len(verified.subject) > MAX_SUBJECT_LENGTH or len(verified.namespace) > MAX_NAMESPACE_LENGTH:
        raise ValueTooLong()
    if len(verified.provider_session_id or "") > MAX_PROVIDER_SESSION_LENGTH:
        raise ValueTooLong()
    return verified


def _provision_once(
    uow: UnitOfWork, verified: VerifiedIdentity, clock: Clock
) -> User | IdentityMustWait:
    _fits(verified)
    with uow:
        known_owner = uow.users.of_identity(verified.namespace, verified.subject)
        if known_owner is not None:
            user = _usable(known_owner)
            uow.identities.touch(
                verified.namespace, verified.subject, clock.now(), _handle_of(verified)
            )
            uow.commit()
            return user
        email = normalise_email(verified.email)
        if email is None and verified.policy.email_required:
            raise EmailRequired()
        # An unverified email is never looked up: who typed it may not own it, and the
        # answer would tell a stranger which addresses have accounts.
        owner = uow.users.by_email(email) if email and verified.email_verified else None
        if owner is not None and not verified.policy.trusted_for_email:
            return IdentityMustWait(owner.id)
        user = _usable(owner) if owner else _create_user(uow, verified, email, clock)
        uow.identities.add(_new_identity(verified, user.id, clock))
        uow.commit()
        return user


def _new_identity(verified: VerifiedIdentity, user_id: int, clock: Clock) -> Identity:
    now = clock.now()
    return Identity(
        verified.namespace,
        verified.subject,
        user_id,
        verified.provider,
        now,
        now,
        _handle_of(verified),
    )


def _handle_of(verified: VerifiedIdentity) -> str | None:
    """Its handle, cut to fit: it is only ever shown."""
    return verified.handle[:MAX_HANDLE_LENGTH] if verified.handle else None


def connect_identity(
    uow: UnitOfWork, user_id: int, verified: VerifiedIdentity, clock: Clock
) -> bool:
    """Attach a verified identity to a user; False when it was theirs already. An identity
    another user holds never moves: IdentityBelongsToAnotherAccount, nothing written."""

    _fits(verified)

    def attempt() -> bool:
        with uow:
            owner = uow.identities.owner_of(verified.namespace, verified.subject)
            if owner == user_id:
                return False
            if owner is not None:
                raise IdentityBelongsToAnotherAccount()
            uow.identities.add(_new_identity(verified, user_id, clock))
            uow.commit()
            return True

    return _retrying_conflicts(attempt, clock)


def disconnect_identity(uow: UnitOfWork, user_id: int, namespace: str, subject: str) -> Identity:
    """Remove one of a user's identities, never the last one."""
    with uow:
        uow.users.lock(user_id)  # two disconnects at once cannot both see a spare identity
        mine = {(i.namespace, i.subject): i for i in uow.identities.of_user(user_id)}
        identity = mine.get((namespace, subject))
        if identity is None:
            raise NotYours()
        if len(mine) == 1:
            raise LastIdentity()
        uow.identities.remove(namespace, subject)
        uow.commit()
        return identity


def rename_user(uow: UnitOfWork, user_id: int, wanted: str) -> str:
    """The new nickname, normalised as at provisioning. Refused: NicknameMixesScripts when a
    word mixes scripts, NicknameTaken when another user's nickname compares equal (same
    letters, NicknameLooksTaken when they only look alike)."""
    nickname = normalise_nickname(wanted)
    if not nickname:
        raise InvalidInput("A nickname needs at least one visible character.")
    if is_mixed_script(nickname):
        raise NicknameMixesScripts()
    try:
        with uow:
            holder = uow.users.by_nickname(nickname)
            if holder is not None and holder.id != user_id:
                if holder.nickname.casefold() == nickname.casefold():
                    raise NicknameTaken()
                raise NicknameLooksTaken()
            uow.users.rename(user_id, nickname)
            uow.commit()
    except Conflict as lost_race:
        raise NicknameTaken() from lost_race
    return nickname


def _usable(user: User | None) -> User:
    if user is None or not user.active:
        raise AccountDisabled()
    return user


def _create_user(
    uow: UnitOfWork, verified: VerifiedIdentity, email: str | None, clock: Clock
) -> User:
    nickname = choose_nickname(
        [verified.nickname, email_local_part(email), verified.policy.fallback_nickname]
    )
    # Only an email the provider vouches for is kept: an unverified one, once kept, would let
    # whoever typed it capture the real owner's later login through a trusted provider.
    kept_email = email if verified.email_is_trusted else None
    unique = make_unique(nickname, uow.users.nickname_taken, uow.users.next_nickname_suffix)
    return uow.users.add(NewUser(unique, kept_email, created_at=clock.now()))
