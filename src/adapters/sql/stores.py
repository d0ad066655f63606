import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic

from sqlalchemy import (
    Delete,
    Engine,
    Executable,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from adapters.sql.errors import domain_errors
from adapters.sql.statements import CompiledStatements
from adapters.sql.tables import (
    login_sessions,
    login_transactions,
    parked_callbacks,
    pending_links,
    posts,
    row_of,
    seen_logout_notices,
    users,
)
from adapters.sql.unit_of_work import USER_BY_ID
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


def expired_rows(table: Table, key: str) -> tuple[Delete, Delete]:
    """Deleting the rows of `table` expired at :now: all of them, or a batch of :limit
    (picked by `key`), so that one sweep takes a bounded time however many piled up."""
    expired = table.c.expires_at <= bindparam("now")
    batch = select(table.c[key]).where(expired).limit(bindparam("limit")).scalar_subquery()
    return delete(table).where(expired), delete(table).where(table.c[key].in_(batch))


# Built once: SQLAlchemy then finds each compiled statement in its cache at once.
_ADD_SESSION = insert(login_sessions)
_SESSION = select(login_sessions).where(login_sessions.c.token_hash == bindparam("token_hash"))
_SESSION_WITH_USER = (
    select(
        login_sessions,
        users.c.nickname,
        users.c.email,
        users.c.active,
        users.c.created_at.label("user_created_at"),
        users.c.language,
    )
    .join(users, users.c.id == login_sessions.c.user_id)
    .where(login_sessions.c.token_hash == bindparam("token_hash"))
)
# An update's own parameters may not bear its columns' names. An ended session stays ended.
_TOUCH_SESSION = (
    update(login_sessions)
    .where(
        login_sessions.c.token_hash == bindparam("hash"),
        login_sessions.c.expires_at > bindparam("now"),
    )
    .values(last_seen_at=bindparam("now"), expires_at=bindparam("expires"))
)
_REMOVE_SESSION = (
    delete(login_sessions)
    .where(login_sessions.c.token_hash == bindparam("token_hash"))
    .returning(login_sessions.c.user_id)
)
_REMOVE_SESSIONS_OF_PROVIDER_SESSION = (
    delete(login_sessions)
    .where(
        login_sessions.c.provider == bindparam("provider"),
        login_sessions.c.provider_session_id == bindparam("provider_session_id"),
    )
    .returning(login_sessions.c.user_id)
)
_REMOVE_SESSIONS_OF_SUBJECT = (
    delete(login_sessions)
    .where(
        login_sessions.c.provider == bindparam("provider"),
        login_sessions.c.subject == bindparam("subject"),
    )
    .returning(login_sessions.c.user_id)
)
_REMOVE_SESSIONS_OF = delete(login_sessions).where(login_sessions.c.user_id == bindparam("user_id"))
_REMOVE_OTHER_SESSIONS_OF = delete(login_sessions).where(
    login_sessions.c.user_id == bindparam("user_id"),
    login_sessions.c.token_hash != bindparam("kept"),
)
_SESSIONS_OF = (
    select(login_sessions)
    .where(login_sessions.c.user_id == bindparam("user_id"))
    .order_by(login_sessions.c.created_at.desc())
)
_REMOVE_EXPIRED_SESSIONS = expired_rows(login_sessions, "token_hash")
_SESSION_FIELDS = [column.name for column in login_sessions.c]
_LIVE_SESSIONS = select(func.count().label("live")).where(
    login_sessions.c.expires_at > bindparam("now")
)

_RECENT_POSTS = (
    select(posts.c.id, posts.c.user_id, posts.c.body, posts.c.created_at)
    .where(posts.c.user_id == bindparam("user_id"))
    .order_by(posts.c.created_at.desc(), posts.c.id.desc())
    .limit(bindparam("limit"))
)


class _SingleStatements:
    """Every call is one statement, atomic by itself, so it runs without BEGIN and COMMIT."""

    def __init__(self, engine: Engine) -> None:
        self._single = CompiledStatements(engine)

    def _first(self, statement: Executable, **parameters: Any) -> dict[str, Any] | None:
        with domain_errors():
            return self._single.first(statement, **parameters)

    def _all(self, statement: Executable, **parameters: Any) -> list[dict[str, Any]]:
        with domain_errors():
            return self._single.all(statement, **parameters)

    def _count(self, statement: Executable, **parameters: Any) -> int:
        with domain_errors():
            return self._single.count(statement, **parameters)

    def _remove_expired(
        self, statements: tuple[Delete, Delete], now: datetime, limit: int | None
    ) -> int:
        everything, batch = statements
        if limit is None:
            return self._count(everything, now=now)
        return self._count(batch, now=now, limit=limit)


class SqlSessions(_SingleStatements):
    """Login sessions by token hash. The tables' columns bear the domain fields' names, so
    rows translate by name."""

    def add(self, session: Session) -> None:
        self._count(_ADD_SESSION, **row_of(session))

    def get(self, token_hash: str) -> Session | None:
        row = self._first(_SESSION, token_hash=token_hash)
        return None if row is None else Session(**row)

    def get_with_user(self, token_hash: str) -> tuple[Session, User] | None:
        row = self._first(_SESSION_WITH_USER, token_hash=token_hash)
        if row is None:
            return None
        user = User(
            row["user_id"],
            row["nickname"],
            row["email"],
            row["active"],
            row["user_created_at"],
            row["language"],
        )
        return Session(**{name: row[name] for name in _SESSION_FIELDS}), user

    def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        self._count(_TOUCH_SESSION, hash=token_hash, now=now, expires=expires_at)

    def remove(self, token_hash: str) -> int | None:
        row = self._first(_REMOVE_SESSION, token_hash=token_hash)
        return None if row is None else int(row["user_id"])

    def remove_all_of(self, user_id: int) -> int:
        return self._count(_REMOVE_SESSIONS_OF, user_id=user_id)

    def remove_by_provider_session(self, provider: str, provider_session_id: str) -> list[int]:
        rows = self._all(
            _REMOVE_SESSIONS_OF_PROVIDER_SESSION,
            provider=provider,
            provider_session_id=provider_session_id,
        )
        return [int(row["user_id"]) for row in rows]

    def remove_by_subject(self, provider: str, subject: str) -> list[int]:
        rows = self._all(_REMOVE_SESSIONS_OF_SUBJECT, provider=provider, subject=subject)
        return [int(row["user_id"]) for row in rows]

    def remove_all_of_except(self, user_id: int, kept_token_hash: str) -> int:
        return self._count(_REMOVE_OTHER_SESSIONS_OF, user_id=user_id, kept=kept_token_hash)

    def of_user(self, user_id: int) -> list[Session]:
        return [Session(**row) for row in self._all(_SESSIONS_OF, user_id=user_id)]

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        return self._remove_expired(_REMOVE_EXPIRED_SESSIONS, now, limit)

    def count_live(self, now: datetime) -> int:
        row = self._first(_LIVE_SESSIONS, now=now)
        return int(row["live"]) if row else 0


class SqlUserDirectory(_SingleStatements):
    """A user by id in one statement, for session stores kept outside the database."""

    def get(self, user_id: int) -> User | None:
        row = self._first(USER_BY_ID, id=user_id)
        if row is None:
            return None
        return User(
            row["id"],
            row["nickname"],
            row["email"],
            row["active"],
            row["created_at"],
            row["language"],
        )


class SqlTimelines(_SingleStatements):
    """A user's newest posts, read in one statement (posts are added by a unit of work)."""

    def recent_by(self, user_id: int, limit: int) -> list[Post]:
        return [Post(**row) for row in self._all(_RECENT_POSTS, user_id=user_id, limit=limit)]


@dataclass(frozen=True)
class TableCodec(Generic[Item]):
    """How one kind of single-use item is kept in SQL: in `table`, whose primary key is the
    item's key and whose columns bear its fields' names; `json_fields` hold a mapping, kept
    as JSON text; `kind` makes the item again from its fields."""

    table: Table
    kind: Callable[..., Item]
    json_fields: tuple[str, ...] = ()

    def row(self, item: Item) -> dict[str, Any]:
        row = row_of(item)
        return row | {name: json.dumps(row[name]) for name in self.json_fields}

    def item(self, row: dict[str, Any]) -> Item:
        return self.kind(**row | {name: json.loads(row[name]) for name in self.json_fields})


SIGN_INS = TableCodec(login_transactions, SignIn, ("provider_state",))
PARKED_ANSWERS = TableCodec(parked_callbacks, ParkedAnswer, ("params",))
WAITING_IDENTITIES = TableCodec(pending_links, WaitingIdentity)
SEEN_LOGOUT_NOTICES = TableCodec(seen_logout_notices, SeenLogoutNotice)


class SqlSingleUse(_SingleStatements, Generic[Item]):
    """Single-use items of one kind in their table. `take` deletes and returns in one
    statement (DELETE ... RETURNING), so of many takers, on any instance, one gets it."""

    def __init__(self, engine: Engine, codec: TableCodec[Item]) -> None:
        super().__init__(engine)
        self._codec = codec
        table = codec.table
        (key,) = table.primary_key.columns
        # Built once per store: SQLAlchemy then finds each compiled statement in its cache.
        self._put = insert(table)
        self._take = delete(table).where(key == bindparam("key")).returning(*table.c)
        self._expired = expired_rows(table, key.name)

    def put(self, item: Item) -> None:
        self._count(self._put, **self._codec.row(item))

    def take(self, key: str) -> Item | None:
        row = self._first(self._take, key=key)
        return None if row is None else self._codec.item(row)

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        return self._remove_expired(self._expired, now, limit)
