import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Generic, Self

from domain.errors import Conflict, LogoutNoticeRefused, SignInCancelled, SignInMismatch
from domain.model import (
    AuditEvent,
    Identity,
    LogoutNotice,
    NewUser,
    Post,
    ProviderPolicy,
    ProviderRedirect,
    Session,
    User,
    VerifiedIdentity,
)
from domain.nicknames import first_suffix, nickname_key
from domain.ports import Item


@dataclass
class FakeDatabase:
    """What has been committed, shared by every FakeUnitOfWork made on it."""

    users: dict[int, User] = field(default_factory=dict)
    identities: dict[tuple[str, str], Identity] = field(default_factory=dict)
    # Shared by copies and never rolled back, like a database sequence.
    user_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # The last nickname suffix handed out per nickname key (rolled back with the work).
    nickname_suffixes: dict[str, int] = field(default_factory=dict)

    def copy(self) -> "FakeDatabase":
        return FakeDatabase(
            dict(self.users), dict(self.identities), self.user_ids, dict(self.nickname_suffixes)
        )


class FakeUsers:
    def __init__(self, data: FakeDatabase) -> None:
        self._data = data

    def get(self, user_id: int) -> User | None:
        return self._data.users.get(user_id)

    def by_nickname(self, nickname: str) -> User | None:
        key = nickname_key(nickname)
        return next((u for u in self._data.users.values() if nickname_key(u.nickname) == key), None)

    def by_email(self, email: str) -> User | None:
        return next((u for u in self._data.users.values() if u.email == email), None)

    def of_identity(self, namespace: str, subject: str) -> User | None:
        identity = self._data.identities.get((namespace, subject))
        return self._data.users.get(identity.user_id) if identity else None

    def nickname_taken(self, key: str) -> bool:
        return any(nickname_key(u.nickname) == key for u in self._data.users.values())

    def next_nickname_suffix(self, key: str) -> int:
        last = self._data.nickname_suffixes.get(key)
        if last is None:
            keys = (nickname_key(u.nickname) for u in self._data.users.values())
            last = first_suffix(key, keys) - 1
        self._data.nickname_suffixes[key] = last + 1
        return last + 1

    def add(self, new_user: NewUser) -> User:
        user_id = next(self._data.user_ids)
        user = User(user_id, new_user.nickname, new_user.email, True, new_user.created_at)
        self._data.users[user.id] = user
        return user

    def rename(self, user_id: int, nickname: str) -> None:
        self._data.users[user_id] = replace(self._data.users[user_id], nickname=nickname)

    def lock(self, user_id: int) -> None:
        pass  # one thread at a time here

    def set_active(self, user_id: int, active: bool) -> None:
        self._data.users[user_id] = replace(self._data.users[user_id], active=active)

    def set_language(self, user_id: int, language: str) -> None:
        self._data.users[user_id] = replace(self._data.users[user_id], language=language)

    def list(self) -> Sequence[User]:
        return sorted(self._data.users.values(), key=lambda u: u.id)


class FakeIdentities:
    def __init__(self, data: FakeDatabase) -> None:
        self._data = data

    def owner_of(self, namespace: str, subject: str) -> int | None:
        identity = self._data.identities.get((namespace, subject))
        return identity.user_id if identity else None

    def add(self, identity: Identity) -> None:
        self._data.identities[(identity.namespace, identity.subject)] = identity

    def of_user(self, user_id: int) -> Sequence[Identity]:
        return [i for i in self._data.identities.values() if i.user_id == user_id]

    def remove(self, namespace: str, subject: str) -> None:
        self._data.identities.pop((namespace, subject), None)

    def touch(self, namespace: str, subject: str, now: datetime, handle: str | None) -> None:
        key = (namespace, subject)
        identity = self._data.identities[key]
        self._data.identities[key] = replace(identity, last_used_at=now, handle=handle)


class FakeUnitOfWork:
    """Works on a copy of the database; commit checks the unique rules as a database would.

    `before_commit` lets a test play a concurrent writer that commits first.
    """

    users: FakeUsers
    identities: FakeIdentities

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database or FakeDatabase()
        self.commits = 0
        self.before_commit: Callable[[], None] | None = None
        self._work: FakeDatabase | None = None

    def __enter__(self) -> Self:
        self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._work = None

    def _start(self) -> None:
        self._base = self.database.copy()
        self._work = self.database.copy()
        self.users = FakeUsers(self._work)
        self.identities = FakeIdentities(self._work)

    def commit(self) -> None:
        assert self._work is not None, "commit outside `with uow:`"
        if self.before_commit:
            hook, self.before_commit = self.before_commit, None
            hook()
        merged = _merge(self.database, self._base, self._work)
        _check_unique(merged)
        self.database.users, self.database.identities = merged.users, merged.identities
        self.database.nickname_suffixes = merged.nickname_suffixes
        self.commits += 1
        self._start()

    def rollback(self) -> None:
        self._start()


def _merge(current: FakeDatabase, base: FakeDatabase, work: FakeDatabase) -> FakeDatabase:
    merged = current.copy()
    for user_id, user in work.users.items():
        if user != base.users.get(user_id):
            merged.users[user_id] = user
    for key, identity in work.identities.items():
        if key not in base.identities:
            if key in merged.identities:
                raise Conflict(f"identity {key} exists")
            merged.identities[key] = identity
        elif identity != base.identities[key]:
            merged.identities[key] = identity
    for key in base.identities.keys() - work.identities.keys():
        merged.identities.pop(key, None)
    for key, last in work.nickname_suffixes.items():
        merged.nickname_suffixes[key] = max(last, merged.nickname_suffixes.get(key, 0))
    return merged


def _check_unique(data: FakeDatabase) -> None:
    nicknames = [nickname_key(u.nickname) for u in data.users.values()]
    emails = [u.email for u in data.users.values() if u.email is not None]
    if len(set(nicknames)) != len(nicknames) or len(set(emails)) != len(emails):
        raise Conflict("a unique value is taken")


class FakeSessions:
    """Sessions in a dict; their users are read from `database`, what a unit of work committed."""

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.sessions: dict[str, Session] = {}
        self.touches = 0
        self._database = database or FakeDatabase()

    def add(self, session: Session) -> None:
        self.sessions[session.token_hash] = session

    def get(self, token_hash: str) -> Session | None:
        return self.sessions.get(token_hash)

    def get_with_user(self, token_hash: str) -> tuple[Session, User] | None:
        session = self.sessions.get(token_hash)
        user = self._database.users.get(session.user_id) if session else None
        return (session, user) if session and user else None

    def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        self.touches += 1
        session = self.sessions.get(token_hash)
        if session is not None and not session.is_expired(now):
            self.sessions[token_hash] = replace(session, last_seen_at=now, expires_at=expires_at)

    def remove(self, token_hash: str) -> int | None:
        removed = self.sessions.pop(token_hash, None)
        return None if removed is None else removed.user_id

    def remove_all_of(self, user_id: int) -> int:
        doomed = [h for h, s in self.sessions.items() if s.user_id == user_id]
        for token_hash in doomed:
            del self.sessions[token_hash]
        return len(doomed)

    def remove_by_provider_session(self, provider: str, provider_session_id: str) -> list[int]:
        return self._remove_where(
            lambda s: (s.provider, s.provider_session_id) == (provider, provider_session_id)
        )

    def remove_by_subject(self, provider: str, subject: str) -> list[int]:
        return self._remove_where(lambda s: (s.provider, s.subject) == (provider, subject))

    def _remove_where(self, matches: Callable[[Session], bool]) -> list[int]:
        doomed = [s for s in self.sessions.values() if matches(s)]
        for session in doomed:
            del self.sessions[session.token_hash]
        return [session.user_id for session in doomed]

    def remove_all_of_except(self, user_id: int, kept_token_hash: str) -> int:
        doomed = [h for h, s in self.sessions.items() if s.user_id == user_id]
        for token_hash in doomed:
            if token_hash != kept_token_hash:
                del self.sessions[token_hash]
        return len(doomed) - (kept_token_hash in doomed)

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        doomed = [h for h, s in self.sessions.items() if s.is_expired(now)][:limit]
        for token_hash in doomed:
            del self.sessions[token_hash]
        return len(doomed)

    def of_user(self, user_id: int) -> list[Session]:
        mine = [s for s in self.sessions.values() if s.user_id == user_id]
        return sorted(mine, key=lambda s: s.created_at, reverse=True)

    def count_live(self, now: datetime) -> int:
        return sum(not s.is_expired(now) for s in self.sessions.values())


class FakeSingleUse(Generic[Item]):
    """Items by key, each taken at most once; expired ones removed on demand."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    def put(self, item: Item) -> None:
        if item.key in self.items:
            raise Conflict(f"{item.key} exists")
        self.items[item.key] = item

    def take(self, key: str) -> Item | None:
        return self.items.pop(key, None)

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        doomed = [key for key, item in self.items.items() if item.expires_at <= now][:limit]
        for key in doomed:
            del self.items[key]
        return len(doomed)


class FakeAuditTrail:
    def __init__(self) -> None:
        self.recorded: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.recorded.append(event)

    def events(self, *, user_id=None, since=None, limit=1000) -> list[AuditEvent]:
        return [
            e
            for e in self.recorded
            if (user_id is None or e.user_id == user_id) and (since is None or e.at >= since)
        ][:limit]

    def kinds(self) -> list[str]:
        return [event.kind for event in self.recorded]


class FakeTimelines:
    """Hands out the posts it was given, in their order, and remembers what it was asked."""

    def __init__(self, posts: Sequence[Post] = ()) -> None:
        self.posts = list(posts)
        self.asked: list[tuple[int, int]] = []

    def recent_by(self, user_id: int, limit: int) -> Sequence[Post]:
        self.asked.append((user_id, limit))
        return self.posts[:limit]


class FakeSeconds:
    """Seconds as time.time or time.monotonic give them, moving only when a test sets `now`."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)
        self.pauses: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        """Passes at once: fake time moves on by `seconds`."""
        self.pauses.append(seconds)
        self.current += timedelta(seconds=seconds)

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class FakeTokenSource:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new_token(self) -> str:
        return f"token-{next(self._counter)}"


class FakeIdentityProvider:
    """Answers `complete` with the identity named in the answer, like a provider would.

    It plays a protocol that binds answers to logins: an answer carries the `state` it was
    begun with, and one for another login is refused.
    """

    def __init__(
        self, policy: ProviderPolicy, name: str = "Fake", namespace: str = "https://fake.example"
    ) -> None:
        self.policy = policy
        self.name = name
        self.takes_identifier = True
        self.namespace = namespace
        self.begun: list[dict[str, str | None]] = []

    def begin(self, *, sign_in_id: str, return_to: str, identifier: str | None) -> ProviderRedirect:
        self.begun.append(
            {"sign_in_id": sign_in_id, "return_to": return_to, "identifier": identifier}
        )
        return ProviderRedirect(
            f"https://{self.policy.key}.example/auth?state={sign_in_id}",
            {"identifier": identifier or "", "state": sign_in_id},
        )

    def identifier_key(self, identifier: str) -> str | None:
        return identifier.strip().casefold() or None

    def complete(self, callback: Mapping[str, str], state: Mapping[str, str]) -> VerifiedIdentity:
        if callback.get("state") != state["state"]:
            raise SignInMismatch()
        if callback.get("mode") == "cancel":
            raise SignInCancelled()
        return VerifiedIdentity(
            self.policy,
            self.namespace,
            callback.get("subject") or state["identifier"],
            nickname=callback.get("nickname"),
            email=callback.get("email"),
            email_verified=callback.get("email_verified") == "true",
        )


class FakeSignOut:
    """A provider where signing out reaches: its end-session page is `end_session_url`
    (None: it has none), and it takes any notice that names a `jti`, as it is."""

    def __init__(self, end_session_url: str | None = "https://fake.example/end") -> None:
        self.end_session_url = end_session_url
        self.asked: list[dict[str, str | None]] = []
        self.trouble: Exception | None = None

    def end_session_redirect(
        self, *, logout_hint: str | None, return_to: str, state: str
    ) -> str | None:
        self.asked.append({"logout_hint": logout_hint, "return_to": return_to, "state": state})
        if self.trouble is not None:
            raise self.trouble
        if self.end_session_url is None:
            return None
        return f"{self.end_session_url}?state={state}"

    def verified_logout_notice(self, notice: Mapping[str, str]) -> LogoutNotice:
        if not notice.get("jti"):
            raise LogoutNoticeRefused("no jti")
        return LogoutNotice(
            notice.get("sid"),
            notice.get("sub"),
            notice["jti"],
            datetime.fromisoformat(notice.get("until", "2026-01-01T00:10:00+00:00")),
        )
