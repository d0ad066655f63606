"""Login sessions, sign-ins and parked answers in Redis (redis-py).

Every key expires by itself at its domain `expires_at` (PXAT), so Redis forgets what the
SQL stores sweep. Writes that touch several keys run as Lua scripts: atomic, one round trip.
One Redis (with replicas if you like), not Redis Cluster: the scripts derive some key names.

Keys, under `prefix` (default "microblog:"):
  session:<token hash>      a hash of the session's fields, and what a page needs of its
                            account (account_*: nickname, email, status, creation, language,
                            version),
                            kept there on the first page, trusted 5 minutes, and dropped when
                            the account changes
  account-version:<user id> how many times the account changed lately (a day): what an
                            account is kept under only while it has not moved
  timeline:<user id>        the account's newest posts, as JSON, kept after the first read from
                            the database for an hour at most, and dropped when the account
                            changes (a post added counts)
  user-sessions:<user id>   a sorted set of that user's session hashes, scored by expiry (ms);
                            trimmed of expired members on every add, and expiring with its last
                            member, so it cannot grow without bound
  provider-session:<provider key>:<provider's session id>
  provider-subject:<provider key>:<subject>
                            the same, of the sessions opened through that provider in that
                            provider session, or with an identity of that subject
  sessions                  every live session hash, scored by expiry: counts live sessions
  login:<sign-in id>        a sign-in in flight, as JSON; taken with GETDEL
  parked:<handle>           a parked provider answer, as JSON; taken with GETDEL
  waiting:<id>              a waiting identity, as JSON; taken with GETDEL (unused so far:
                            the container keeps waiting identities in SQL)
  logout-notice:<digest>    a logout notice acted on, until it could no longer be accepted
"""

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Generic, cast

import redis

from domain.errors import Conflict, StoreUnavailable
from domain.model import (
    ParkedAnswer,
    Post,
    SeenLogoutNotice,
    Session,
    SignIn,
    User,
    WaitingIdentity,
)
from domain.ports import Item

DEFAULT_PREFIX = "microblog:"
SESSION_STORE_DOWN = "The site cannot reach its session store. Please try again in a moment."

# Lua that every session script shares: the names of the indexes a session is in besides
# its user's, by where it came from (see _origin_indexes), and keeping an index's expiry at
# its last member's.
_INDEXES_OF = """
local function origin_indexes(prefix, session_key)
  local provider, sid, subject = unpack(redis.call(
    'HMGET', session_key, 'provider', 'provider_session_id', 'subject'))
  local indexes = {}
  if provider and sid then
    indexes[#indexes + 1] = prefix .. 'provider-session:' .. provider .. ':' .. sid
  end
  if provider and subject then
    indexes[#indexes + 1] = prefix .. 'provider-subject:' .. provider .. ':' .. subject
  end
  return indexes
end
local function expire_with_last(index)
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', index, last[2]) end
end
local function forget(prefix, session_key, hash, all)
  local user_id = redis.call('HGET', session_key, 'user_id')
  for _, index in ipairs(origin_indexes(prefix, session_key)) do
    redis.call('ZREM', index, hash)
  end
  redis.call('DEL', session_key)
  redis.call('ZREM', all, hash)
  if user_id then redis.call('ZREM', prefix .. 'user-sessions:' .. user_id, hash) end
  return user_id
end
"""
# KEYS: the session, its user's index, every live session, then its origin's indexes.
_ADD_SESSION = (
    _INDEXES_OF
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local expires, now, hash = ARGV[1], ARGV[2], ARGV[3]
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], expires)
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], expires, hash)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if i ~= 3 then expire_with_last(KEYS[i]) end
end
return 1
"""
)
# A session that expired meanwhile is not brought back. One that lives on gets its new
# expiry in its key, in every sorted set it is in, and in those sets' own expiry.
_TOUCH_SESSION = (
    _INDEXES_OF
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local expires, hash, prefix = ARGV[3], ARGV[4], ARGV[5]
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], expires)
redis.call('ZADD', KEYS[2], expires, hash)
local indexes = origin_indexes(prefix, KEYS[1])
indexes[#indexes + 1] = prefix .. 'user-sessions:' .. redis.call('HGET', KEYS[1], 'user_id')
for _, index in ipairs(indexes) do
  redis.call('ZADD', index, expires, hash)
  expire_with_last(index)
end
return 1
"""
)
_REMOVE_SESSION = (
    _INDEXES_OF
    + """
return forget(ARGV[2], KEYS[1], ARGV[1], KEYS[2])
"""
)
_REMOVE_SESSIONS_OF = (
    _INDEXES_OF
    + """
local removed = 0
for _, hash in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if hash ~= ARGV[2] then
    if forget(ARGV[1], ARGV[1] .. 'session:' .. hash, hash, KEYS[2]) then
      removed = removed + 1
    end
    redis.call('ZREM', KEYS[1], hash)
  end
end
return removed
"""
)
# KEYS: an origin index (a provider's session, or a subject) and every live session. The
# users of the sessions it ended, one per session.
_REMOVE_SESSIONS_IN = (
    _INDEXES_OF
    + """
local ended = {}
for _, hash in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local user_id = forget(ARGV[1], ARGV[1] .. 'session:' .. hash, hash, KEYS[2])
  if user_id then ended[#ended + 1] = user_id end
end
redis.call('DEL', KEYS[1])
return ended
"""
)
# KEYS: per changed account, its version, its sessions' index and its timeline. ARGV: the key
# prefix, how long a version is kept (ms), then the account fields to drop from each session.
_ACCOUNTS_CHANGED = """
local prefix = ARGV[1]
for i = 1, #KEYS, 3 do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  for _, hash in ipairs(redis.call('ZRANGE', KEYS[i + 1], 0, -1)) do
    redis.call('HDEL', prefix .. 'session:' .. hash, unpack(ARGV, 3))
  end
  redis.call('DEL', KEYS[i + 2])
end
"""
# KEYS: the session, its account's version. ARGV: the version read before the account was,
# then the account's fields. An account that changed since, or a session that ended, keeps
# nothing.
_KEEP_ACCOUNT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""
# KEYS: the timeline, its account's version. ARGV: the version read before the posts were,
# the posts, how long they are kept (ms). Posts read while the account changed are not kept.
_KEEP_TIMELINE = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
# KEYS: the session. ARGV: the key prefix. The session's fields, and the newest posts its
# account keeps (false when none are kept): what a signed-in page reads, in one round trip.
_READ_SESSION = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {fields, false} end
local user_id = redis.call('HGET', KEYS[1], 'user_id')
return {fields, redis.call('GET', ARGV[1] .. 'timeline:' .. user_id)}
"""
_REMOVE_EXPIRED_SESSIONS = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #expired > 0 then redis.call('ZREM', KEYS[1], unpack(expired)) end
return #expired
"""


def redis_client(url: str, timeout_seconds: float = 1.0) -> redis.Redis:
    """A client whose every call ends within about `timeout_seconds` when Redis is away,
    and which reconnects by itself when it is back."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
    )


def redis_answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise StoreUnavailable(SESSION_STORE_DOWN) from error


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# An account's version outlives by far any page that read the account before it changed.
ACCOUNT_VERSION_KEPT_MS = 24 * 3600 * 1000
# How long a session trusts the account it keeps: the bound on a change it never heard of
# (Redis away right after a commit), and on sessions kept by an older release.
ACCOUNT_TRUSTED_MS = 5 * 60 * 1000
_ACCOUNT_FIELDS = ("account_version", "account_until", "account_nickname", "account_email",
                   "account_active", "account_created_at", "account_language")  # fmt: skip


def _account_fields(user: User, version: str) -> list[str]:
    fields = {
        "account_version": version,
        "account_until": str(_milliseconds(datetime.now(UTC)) + ACCOUNT_TRUSTED_MS),
        "account_nickname": user.nickname,
        "account_active": _text(user.active),
        "account_created_at": _text(user.created_at),
    }
    if user.email is not None:
        fields["account_email"] = user.email
    if user.language is not None:
        fields["account_language"] = user.language
    return [item for field in fields.items() for item in field]


def _account_of(user_id: int, fields: Mapping[str, str]) -> User | None:
    """The account kept in a session's fields, if it is kept there and still trusted."""
    until = fields.get("account_until")
    if until is None or int(until) < _milliseconds(datetime.now(UTC)):
        return None
    return User(
        user_id,
        fields["account_nickname"],
        fields.get("account_email"),
        fields["account_active"] == "1",
        datetime.fromisoformat(fields["account_created_at"]),
        fields.get("account_language"),
    )


def _session_of(token_hash: str, fields: Mapping[str, str]) -> Session:
    return Session(
        token_hash=token_hash,
        user_id=int(fields["user_id"]),
        remember=fields["remember"] == "1",
        created_at=datetime.fromisoformat(fields["created_at"]),
        last_seen_at=datetime.fromisoformat(fields["last_seen_at"]),
        expires_at=datetime.fromisoformat(fields["expires_at"]),
        user_agent=fields.get("user_agent"),
        client_address=fields.get("client_address"),
        provider=fields.get("provider"),
        namespace=fields.get("namespace"),
        subject=fields.get("subject"),
        provider_session_id=fields.get("provider_session_id"),
        logout_hint=fields.get("logout_hint"),
    )


def _version_key(prefix: str, user_id: int) -> str:
    return f"{prefix}account-version:{user_id}"


def _timeline_key(prefix: str, user_id: int) -> str:
    return f"{prefix}timeline:{user_id}"


# How long the posts a session read brought along wait for their page to ask for them.
BROUGHT_ALONG_SECONDS = 1.0


class RedisSessions:
    """Sessions in Redis. A session's account comes from the database through `user_by_id`
    on its first page, and is then kept in the session until `accounts_changed` drops it.
    Reading a session brings along the newest posts its account keeps (`RedisTimelines`), so
    a signed-in page is one round trip to Redis."""

    def __init__(
        self,
        client: redis.Redis,
        user_by_id: Callable[[int], User | None],
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._redis = client
        self._user_by_id = user_by_id
        self._prefix = prefix
        self._all = f"{prefix}sessions"
        self._add = client.register_script(_ADD_SESSION)
        self._touch = client.register_script(_TOUCH_SESSION)
        self._remove = client.register_script(_REMOVE_SESSION)
        self._remove_of = client.register_script(_REMOVE_SESSIONS_OF)
        self._remove_in = client.register_script(_REMOVE_SESSIONS_IN)
        self._remove_expired = client.register_script(_REMOVE_EXPIRED_SESSIONS)
        self._accounts_changed = client.register_script(_ACCOUNTS_CHANGED)
        self._keep_account = client.register_script(_KEEP_ACCOUNT)
        self._read = client.register_script(_READ_SESSION)
        # What this thread's last session read brought along: its user id, when, the posts.
        # A context variable: a request served by another thread never sees it.
        self._brought_along: ContextVar[tuple[int, float, str] | None] = ContextVar(
            f"brought_along_{id(self)}", default=None
        )

    @property
    def client(self) -> redis.Redis:
        return self._redis

    @property
    def prefix(self) -> str:
        """Where every key of these sessions, and of what they keep, is named."""
        return self._prefix

    def _key(self, token_hash: str) -> str:
        return f"{self._prefix}session:{token_hash}"

    def _index(self, user_id: int) -> str:
        return f"{self._prefix}user-sessions:{user_id}"

    def _version(self, user_id: int) -> str:
        return _version_key(self._prefix, user_id)

    # Provider keys hold no ":", so these names cannot collide.
    def _provider_session_index(self, provider: str, provider_session_id: str) -> str:
        return f"{self._prefix}provider-session:{provider}:{provider_session_id}"

    def _subject_index(self, provider: str, subject: str) -> str:
        return f"{self._prefix}provider-subject:{provider}:{subject}"

    def _origin_indexes(self, session: Session) -> list[str]:
        """The indexes of where it came from, as the scripts' origin_indexes names them."""
        if session.provider is None:
            return []
        indexes = []
        if session.provider_session_id is not None:
            indexes.append(
                self._provider_session_index(session.provider, session.provider_session_id)
            )
        if session.subject is not None:
            indexes.append(self._subject_index(session.provider, session.subject))
        return indexes

    def add(self, session: Session) -> None:
        fields = {k: _text(v) for k, v in asdict(session).items() if v is not None}
        del fields["token_hash"]
        pairs = [item for field in fields.items() for item in field]
        now = _milliseconds(datetime.now(UTC))
        keys = [self._key(session.token_hash), self._index(session.user_id), self._all]
        keys += self._origin_indexes(session)
        expires = _milliseconds(session.expires_at)
        with _store_errors():
            added = self._add(keys=keys, args=[expires, now, session.token_hash, *pairs])
        if not added:
            raise Conflict("a session with this token hash exists")

    def get(self, token_hash: str) -> Session | None:
        with _store_errors():
            fields = cast(dict[str, str], self._redis.hgetall(self._key(token_hash)))
        return _session_of(token_hash, fields) if fields else None

    def get_with_user(self, token_hash: str) -> tuple[Session, User] | None:
        key = self._key(token_hash)
        with _store_errors():
            flat, timeline = cast(list[Any], self._read(keys=[key], args=[self._prefix]))
        if not flat:
            return None
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        session = _session_of(token_hash, fields)
        self._bring_along(session.user_id, timeline)
        user = _account_of(session.user_id, fields) or self._read_account(key, session.user_id)
        return None if user is None else (session, user)

    def _bring_along(self, user_id: int, timeline: str | None) -> None:
        """Every read of a session replaces what this thread's last one brought along."""
        self._brought_along.set(None if timeline is None else (user_id, time.monotonic(), timeline))

    def timeline_brought_along(self, user_id: int) -> str | None:
        """The posts (as kept, JSON) that this thread's last session read brought along, if
        that session is this user's and was read at most BROUGHT_ALONG_SECONDS ago: the read
        of this very page, which reads its session first. Each is handed out once."""
        brought = self._brought_along.get()
        if brought is None or brought[0] != user_id:
            return None
        self._brought_along.set(None)
        if time.monotonic() - brought[1] > BROUGHT_ALONG_SECONDS:
            return None
        return brought[2]

    def _read_account(self, key: str, user_id: int) -> User | None:
        """The account from the database, kept in the session unless it changed meanwhile
        (its version is read first, so a change after that is seen)."""
        version_key = self._version(user_id)
        with _store_errors():
            version = cast(str | None, self._redis.get(version_key)) or "0"
        user = self._user_by_id(user_id)
        if user is not None:
            with _store_errors():
                self._keep_account(
                    keys=[key, version_key], args=[version, *_account_fields(user, version)]
                )
        return user

    def accounts_changed(self, user_ids: Iterable[int]) -> None:
        """Drops what the sessions of these accounts keep of them: the next page reads
        each account again."""
        changed = set(user_ids)
        brought = self._brought_along.get()
        if brought is not None and brought[0] in changed:
            self._brought_along.set(None)
        keys = [
            key
            for i in sorted(changed)
            for key in (self._version(i), self._index(i), _timeline_key(self._prefix, i))
        ]
        with _store_errors():
            self._accounts_changed(
                keys=keys, args=[self._prefix, ACCOUNT_VERSION_KEPT_MS, *_ACCOUNT_FIELDS]
            )

    def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        seen, ends, at = now.isoformat(), expires_at.isoformat(), _milliseconds(expires_at)
        args: list[str | int] = [seen, ends, at, token_hash, self._prefix]
        with _store_errors():
            self._touch(keys=[self._key(token_hash), self._all], args=args)

    def remove(self, token_hash: str) -> int | None:
        with _store_errors():
            user_id = self._remove(
                keys=[self._key(token_hash), self._all], args=[token_hash, self._prefix]
            )
        return None if user_id is None else int(user_id)

    def remove_all_of(self, user_id: int) -> int:
        return self.remove_all_of_except(user_id, "")

    def remove_all_of_except(self, user_id: int, kept_token_hash: str) -> int:
        with _store_errors():
            removed = self._remove_of(
                keys=[self._index(user_id), self._all], args=[self._prefix, kept_token_hash]
            )
        return int(removed)

    def remove_by_provider_session(self, provider: str, provider_session_id: str) -> list[int]:
        return self._remove_sessions_in(self._provider_session_index(provider, provider_session_id))

    def remove_by_subject(self, provider: str, subject: str) -> list[int]:
        return self._remove_sessions_in(self._subject_index(provider, subject))

    def _remove_sessions_in(self, index: str) -> list[int]:
        with _store_errors():
            ended = self._remove_in(keys=[index, self._all], args=[self._prefix])
        return [int(user_id) for user_id in cast(list[str], ended)]

    def of_user(self, user_id: int) -> list[Session]:
        now = _milliseconds(datetime.now(UTC))
        with _store_errors():
            hashes = cast(list[str], self._redis.zrangebyscore(self._index(user_id), now, "+inf"))
            pipeline = self._redis.pipeline(transaction=False)
            for token_hash in hashes:
                pipeline.hgetall(self._key(token_hash))
            found = pipeline.execute()
        sessions = [_session_of(h, f) for h, f in zip(hashes, found, strict=True) if f]
        return sorted(sessions, key=lambda session: session.created_at, reverse=True)

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        """The sessions expire by themselves; this trims the set that counts them."""
        with _store_errors():
            removed = self._remove_expired(keys=[self._all], args=[_milliseconds(now), limit or -1])
        return int(removed)

    def count_live(self, now: datetime) -> int:
        with _store_errors():
            return cast(int, self._redis.zcount(self._all, f"({_milliseconds(now)}", "+inf"))


# Bounds how long a post written around the app (not through a unit of work) goes unseen.
TIMELINE_KEPT_MS = 3600 * 1000


class RedisTimelines:
    """A user's newest posts: from the database through `recent_by` on the first read, then
    kept in Redis until the account changes, so a signed-in page reads no database. Built
    from the `sessions` whose `accounts_changed` drops them: in their Redis, under their
    prefix, so no change to the account can be missed."""

    def __init__(
        self, sessions: RedisSessions, recent_by: Callable[[int, int], Sequence[Post]]
    ) -> None:
        self._sessions = sessions
        self._redis = sessions.client
        self._prefix = sessions.prefix
        self._recent_by = recent_by
        self._keep = self._redis.register_script(_KEEP_TIMELINE)

    def recent_by(self, user_id: int, limit: int) -> Sequence[Post]:
        brought_along = _posts_kept(self._sessions.timeline_brought_along(user_id), limit)
        if brought_along is not None:
            return brought_along
        key, version_key = _timeline_key(self._prefix, user_id), _version_key(self._prefix, user_id)
        with _store_errors():
            kept, version = cast(list[str | None], self._redis.mget(key, version_key))
        found = _posts_kept(kept, limit)
        if found is not None:
            return found
        posts = self._recent_by(user_id, limit)
        fresh = {"limit": limit, "posts": [vars(post) for post in posts]}
        args: list[str | int] = [version or "0", json.dumps(fresh, default=_text), TIMELINE_KEPT_MS]
        with _store_errors():
            self._keep(keys=[key, version_key], args=args)
        return posts


def _posts_kept(kept: str | None, limit: int) -> list[Post] | None:
    """The newest `limit` posts of a kept timeline, if it holds that many."""
    if kept is None:
        return None
    timeline = json.loads(kept)
    if timeline["limit"] < limit:
        return None
    return [_post_of(fields) for fields in timeline["posts"][:limit]]


def _post_of(fields: dict[str, Any]) -> Post:
    return Post(**fields | {"created_at": datetime.fromisoformat(fields["created_at"])})


@dataclass(frozen=True)
class JsonCodec(Generic[Item]):
    """How one kind of single-use item is kept in Redis: as JSON under `<prefix><name>:<key>`;
    `datetime_fields` come back from their ISO text; `kind` makes the item from its fields."""

    name: str
    kind: Callable[..., Item]
    datetime_fields: tuple[str, ...] = ("expires_at",)

    def text(self, item: Item) -> str:
        return json.dumps(vars(item), default=_text)  # a dataclass's fields, shallow

    def item(self, text: str) -> Item:
        fields = json.loads(text)
        dates = {name: datetime.fromisoformat(fields[name]) for name in self.datetime_fields}
        return self.kind(**fields | dates)


SIGN_INS = JsonCodec("login", SignIn, ("created_at", "expires_at"))
PARKED_ANSWERS = JsonCodec("parked", ParkedAnswer)
WAITING_IDENTITIES = JsonCodec("waiting", WaitingIdentity)
SEEN_LOGOUT_NOTICES = JsonCodec("logout-notice", SeenLogoutNotice)


class RedisSingleUse(Generic[Item]):
    """Single-use items of one kind, written once under a fresh key (SET NX PXAT, so Redis
    drops each when it expires) and taken once (GETDEL)."""

    def __init__(
        self, client: redis.Redis, codec: JsonCodec[Item], prefix: str = DEFAULT_PREFIX
    ) -> None:
        self._redis = client
        self._codec = codec
        self._prefix = f"{prefix}{codec.name}:"

    def put(self, item: Item) -> None:
        expires = max(_milliseconds(item.expires_at), 1)
        with _store_errors():
            written = self._redis.set(
                self._prefix + item.key, self._codec.text(item), nx=True, pxat=expires
            )
        if not written:
            raise Conflict(f"{self._codec.name} {item.key[:8]}... exists")

    def take(self, key: str) -> Item | None:
        with _store_errors():
            text = cast(str | None, self._redis.getdel(self._prefix + key))
        return None if text is None else self._codec.item(text)

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        """Nothing to do: Redis drops each key when it expires."""
        return 0
