import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from domain.errors import (
    AccountDisabled,
    Conflict,
    EmailBelongsToAnotherAccount,
    EmailRequired,
    TooManyConflicts,
    UserNotFound,
)
from domain.inputs import normalise_email
from domain.model import (
    Identity,
    LoginSession,
    NewUser,
    Post,
    SessionPolicy,
    User,
    VerifiedIdentity,
    hash_token,
)
from domain.nicknames import choose_nickname, email_local_part, make_unique
from domain.ports import (
    Clock,
    LoginSessions,
    LoginTransactions,
    TokenSource,
    UnitOfWork,
)

CONFLICT_ATTEMPTS = 10
CONFLICT_BACKOFF_SECONDS = 0.002

T = TypeVar("T")


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str
    session: LoginSession
    next_url: str | None = None


def complete_login(
    verified: VerifiedIdentity,
    *,
    remember: bool,
    uow: UnitOfWork,
    sessions: LoginSessions,
    clock: Clock,
    tokens: TokenSource,
    policy: SessionPolicy,
) -> SignedIn:
    """Provision or find the identity's user, then open a new login session for it."""
    user = provision(uow, verified, clock)
    token = tokens.new_token()
    session = LoginSession.open(token, user.id, remember, clock.now(), policy)
    sessions.add(session)
    return SignedIn(user, token, session)


def provision(uow: UnitOfWork, verified: VerifiedIdentity, clock: Clock) -> User:
    """Find or create the user of a verified identity.

    A known identity keeps its user whatever it asserts now. A new identity whose email an
    account already owns joins that account only if the email is verified by a provider
    trusted for email;
    otherwise the login is refused and nothing is written. A lost race is retried.
    """
    return _retrying_conflicts(lambda: _provision_once(uow, verified, clock))


def _retrying_conflicts(attempt: Callable[[], T]) -> T:
    # n logins racing for one nickname need up to n attempts; random pauses spread them out.
    for attempt_number in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except Conflict:
            time.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * attempt_number))
    raise TooManyConflicts()


def _provision_once(uow: UnitOfWork, verified: VerifiedIdentity, clock: Clock) -> User:
    with uow:
        known_owner = uow.users.of_identity(verified.namespace, verified.subject)
        if known_owner is not None:
            return _usable(known_owner)
        email = normalise_email(verified.email)
        if email is None and verified.policy.email_required:
            raise EmailRequired()
        owner = uow.users.by_email(email) if email else None
        if owner is not None and not verified.email_is_trusted:
            raise EmailBelongsToAnotherAccount()
        user = _usable(owner) if owner else _create_user(uow, verified, email, clock)
        uow.identities.add(Identity(verified.namespace, verified.subject, user.id))
        uow.commit()
        return user


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
    unique = make_unique(nickname, uow.users.nickname_taken)
    return uow.users.add(NewUser(unique, kept_email, created_at=clock.now()))


def current_user(
    token: str | None,
    *,
    sessions: LoginSessions,
    clock: Clock,
    policy: SessionPolicy,
) -> User | None:
    """The user a session token signs in, or None when expired, revoked or disabled."""
    if not token:
        return None
    token_hash = hash_token(token)
    found = sessions.get_with_user(token_hash)
    if found is None:
        return None
    session, user = found
    now = clock.now()
    if session.is_expired(now):
        sessions.remove(token_hash)
        return None
    if not user.active:
        return None
    if session.needs_touch(now, policy):
        sessions.touch(token_hash, now)
    return user


def recent_posts(user_id: int, *, uow: UnitOfWork, limit: int = 20) -> Sequence[Post]:
    """A user's newest posts, newest first."""
    with uow:
        return uow.posts.recent_by(user_id, limit)


def find_user(nickname: str, *, uow: UnitOfWork) -> User:
    """The user with this nickname, compared case-insensitively; UserNotFound if none."""
    with uow:
        user = uow.users.by_nickname(nickname)
    if user is None:
        raise UserNotFound(f"There is no user called {nickname!r}.")
    return user


def list_users(*, uow: UnitOfWork) -> Sequence[User]:
    with uow:
        return uow.users.list()


def clean_up_expired(
    *, sessions: LoginSessions, transactions: LoginTransactions, clock: Clock
) -> tuple[int, int]:
    """Delete expired login sessions and abandoned logins; returns how many of each."""
    now = clock.now()
    return sessions.remove_expired(now), transactions.remove_expired(now)


def log_out(token: str | None, *, sessions: LoginSessions) -> None:
    """End one browser's session; its remember-me cookie dies with it."""
    if token:
        sessions.remove(hash_token(token))


def log_out_everywhere(user_id: int, *, sessions: LoginSessions) -> int:
    """End every session of a user, on every browser. Returns how many ended."""
    return sessions.remove_all_of(user_id)


def disable_user(user_id: int, *, uow: UnitOfWork, sessions: LoginSessions) -> None:
    """A disabled user cannot log in and is signed out everywhere."""
    _set_active(user_id, False, uow)
    sessions.remove_all_of(user_id)


def enable_user(user_id: int, *, uow: UnitOfWork) -> None:
    _set_active(user_id, True, uow)


def _set_active(user_id: int, active: bool, uow: UnitOfWork) -> None:
    with uow:
        if uow.users.get(user_id) is None:
            raise UserNotFound()
        uow.users.set_active(user_id, active)
        uow.commit()
