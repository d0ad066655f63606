from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeAlias, TypeVar, runtime_checkable

from domain.model import (
    AuditEvent,
    Identity,
    LogoutNotice,
    NewUser,
    ParkedAnswer,
    Post,
    ProviderPolicy,
    ProviderRedirect,
    SeenLogoutNotice,
    Session,
    SignIn,
    User,
    VerifiedIdentity,
    WaitingIdentity,
)


class Users(Protocol):
    def get(self, user_id: int) -> User | None: ...

    def by_nickname(self, nickname: str) -> User | None:
        """Compares nickname keys: case-insensitive, and look-alikes share a key."""
        ...

    def by_email(self, email: str) -> User | None: ...

    def of_identity(self, namespace: str, subject: str) -> User | None:
        """The user the identity belongs to, if it is known."""
        ...

    def nickname_taken(self, key: str) -> bool:
        """`key` is a `nickname_key`."""
        ...

    def next_nickname_suffix(self, key: str) -> int:
        """The next number to try after the nickname with this key: the first call for a key
        answers one more than any number already used after it (2 if none), each later call
        one more than the last. Kept by the unit of work: a rollback gives the number back."""
        ...

    def add(self, new_user: NewUser) -> User: ...

    def rename(self, user_id: int, nickname: str) -> None: ...

    def lock(self, user_id: int) -> None:
        """Hold the user's row until the unit of work ends: changes to its identities queue."""
        ...

    def set_active(self, user_id: int, active: bool) -> None: ...

    def set_language(self, user_id: int, language: str) -> None: ...

    def list(self) -> Sequence[User]: ...


class Identities(Protocol):
    def owner_of(self, namespace: str, subject: str) -> int | None: ...

    def add(self, identity: Identity) -> None: ...

    def of_user(self, user_id: int) -> Sequence[Identity]:
        """Oldest first."""
        ...

    def remove(self, namespace: str, subject: str) -> None: ...

    def touch(self, namespace: str, subject: str, now: datetime, handle: str | None) -> None:
        """Record a sign-in with it, and the handle its provider gave it this time."""
        ...


class Posts(Protocol):
    def add(self, user_id: int, body: str, created_at: datetime) -> Post: ...


class Timelines(Protocol):
    """Reading posts outside any unit of work."""

    def recent_by(self, user_id: int, limit: int) -> Sequence[Post]:
        """Newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction over users and identities: rolled back on exit unless committed.

    `commit` raises `Conflict` when a concurrent writer took a unique value first.
    """

    @property
    def users(self) -> Users: ...

    @property
    def identities(self) -> Identities: ...

    @property
    def posts(self) -> Posts: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Sessions(Protocol):
    def add(self, session: Session) -> None: ...

    def get(self, token_hash: str) -> Session | None: ...

    def get_with_user(self, token_hash: str) -> tuple[Session, User] | None:
        """The session and its user in one read: this runs on every signed-in request."""
        ...

    def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        """Last seen `now`, and now ending at `expires_at`; a session that has already
        ended (removed or expired) is not brought back."""
        ...

    def remove(self, token_hash: str) -> int | None:
        """Ends it; the id of the user it signed in, None if there was no such session."""
        ...

    def remove_all_of(self, user_id: int) -> int: ...

    def remove_by_provider_session(self, provider: str, provider_session_id: str) -> list[int]:
        """Ends, in one step, every session opened through `provider` in that provider's
        session; the user id of each one ended."""
        ...

    def remove_by_subject(self, provider: str, subject: str) -> list[int]:
        """Ends, in one step, every session opened through `provider` with an identity of
        this subject; the user id of each one ended."""
        ...

    def remove_all_of_except(self, user_id: int, kept_token_hash: str) -> int: ...

    def of_user(self, user_id: int) -> Sequence[Session]:
        """Newest first."""
        ...

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        """All expired ones, or at most `limit` of them."""
        ...

    def count_live(self, now: datetime) -> int:
        """How many have not expired at `now` (the live sessions gauge)."""
        ...


class Expiring(Protocol):
    """What a single-use store keeps: an item that carries its own key and end."""

    @property
    def key(self) -> str: ...

    @property
    def expires_at(self) -> datetime: ...


Item = TypeVar("Item", bound=Expiring)


class SingleUse(Protocol[Item]):
    """Items kept for a short while under a fresh secret key, each taken at most once."""

    def put(self, item: Item) -> None:
        """Keep it under `item.key`; Conflict if that key is kept already."""
        ...

    def take(self, key: str) -> Item | None:
        """Remove and return it, atomically: of every taker, on every instance of the site,
        one gets it and the others None. An expired one may still be returned until it is
        removed: the caller checks `expires_at`."""
        ...

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        """All expired ones, or at most `limit` of them; how many this removed (a store that
        forgets expired items by itself answers 0)."""
        ...


# One contract, three roles: each alias names what its store keeps.
SignIns: TypeAlias = SingleUse[SignIn]
ParkedAnswers: TypeAlias = SingleUse[ParkedAnswer]
WaitingIdentities: TypeAlias = SingleUse[WaitingIdentity]
# Put once each: a notice seen before is refused (`put` raises Conflict).
SeenLogoutNotices: TypeAlias = SingleUse[SeenLogoutNotice]


class AuditTrail(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def events(
        self, *, user_id: int | None = None, since: datetime | None = None, limit: int = 1000
    ) -> Sequence[AuditEvent]:
        """Oldest first."""
        ...


class IdentityProvider(Protocol):
    """One configured way to sign in, over any redirect-based protocol.

    `begin` sends the browser to the provider; `complete` checks what came back.
    """

    policy: ProviderPolicy
    name: str  # the login button's label
    takes_identifier: bool  # whether the person types an identifier for this provider

    def begin(self, *, sign_in_id: str, return_to: str, identifier: str | None) -> ProviderRedirect:
        """Where to send the browser, and the state to keep server side until it returns.

        `sign_in_id` is the login's secret, known to this browser only; the answer must
        prove it belongs to it. `return_to` is this provider's return URL on the site.
        Raises InvalidIdentifier, SignInFailed or ProviderUnavailable.
        """
        ...

    def complete(self, callback: Mapping[str, str], state: Mapping[str, str]) -> VerifiedIdentity:
        """`callback`: the return request's parameters (query and form); `state`: what
        `begin` asked to keep. Raises SignInCancelled, SignInFailed, SignInMismatch or
        ProviderUnavailable."""
        ...

    def identifier_key(self, identifier: str) -> str | None:
        """What the typed `identifier` counts as for the limit on login starts: one key for
        every spelling the protocol treats as one identifier; None when it takes no
        identifier, or this text cannot be one."""
        ...


@runtime_checkable
class ProviderSignOut(Protocol):
    """A provider where signing out reaches: Logout here may end the person's sign-in there
    too, and the provider's notice that it ended there ends their sessions here."""

    def end_session_redirect(
        self, *, logout_hint: str | None, return_to: str, state: str
    ) -> str | None:
        """Where to send the browser to end its sign-in at the provider as well, coming back
        to `return_to` with `state`; None when this provider is not set to, or has no such
        page. `logout_hint` is the session's (None for sessions from before). Raises
        SignInFailed or ProviderUnavailable."""
        ...

    def verified_logout_notice(self, notice: Mapping[str, str]) -> LogoutNotice:
        """The checked notice the provider posted (its form fields); LogoutNoticeRefused,
        saying why, if it does not pass every check."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait this long (a pause between retries)."""
        ...


class TokenSource(Protocol):
    def new_token(self) -> str:
        """An unguessable URL-safe secret."""
        ...
