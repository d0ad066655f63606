import json
from datetime import datetime
from typing import Any

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

from adapters.sql.direct import DirectStatements
from adapters.sql.engine import autocommitting
from adapters.sql.errors import domain_errors
from adapters.sql.tables import (
    login_sessions,
    login_transactions,
    parked_callbacks,
    pending_links,
    posts,
    row_of,
    users,
)
from adapters.sql.unit_of_work import USER_BY_ID
from domain.model import (
    LoginSession,
    LoginTransaction,
    ParkedCallback,
    PendingLink,
    Post,
    User,
)


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

_ADD_TRANSACTION = insert(login_transactions)
_TAKE_TRANSACTION = (
    delete(login_transactions)
    .where(login_transactions.c.id == bindparam("id"))
    .returning(*login_transactions.c)
)
_REMOVE_EXPIRED_TRANSACTIONS = expired_rows(login_transactions, "id")

_ADD_PENDING_LINK = insert(pending_links)
_TAKE_PENDING_LINK = (
    delete(pending_links).where(pending_links.c.id == bindparam("id")).returning(*pending_links.c)
)
_REMOVE_EXPIRED_PENDING_LINKS = expired_rows(pending_links, "id")
_PARK = insert(parked_callbacks)
_TAKE_PARKED = (
    delete(parked_callbacks)
    .where(parked_callbacks.c.handle == bindparam("handle"))
    .returning(*parked_callbacks.c)
)
_REMOVE_EXPIRED_PARKED = expired_rows(parked_callbacks, "handle")
_RECENT_POSTS = (
    select(posts.c.id, posts.c.user_id, posts.c.body, posts.c.created_at)
    .where(posts.c.user_id == bindparam("user_id"))
    .order_by(posts.c.created_at.desc(), posts.c.id.desc())
    .limit(bindparam("limit"))
)


class _SingleStatements:
    """Every call is one statement, atomic by itself, so it runs without BEGIN and COMMIT."""

    def __init__(self, engine: Engine) -> None:
        self._engine = autocommitting(engine)
        self._direct = DirectStatements(engine)

    def _first(self, statement: Executable, **parameters: Any) -> dict[str, Any] | None:
        with domain_errors():
            return self._direct.first(statement, **parameters)

    def _all(self, statement: Executable, **parameters: Any) -> list[dict[str, Any]]:
        with domain_errors():
            return self._direct.all(statement, **parameters)

    def _count(self, statement: Executable, **parameters: Any) -> int:
        with domain_errors():
            return self._direct.count(statement, **parameters)

    def _remove_expired(
        self, statements: tuple[Delete, Delete], now: datetime, limit: int | None
    ) -> int:
        everything, batch = statements
        if limit is None:
            return self._count(everything, now=now)
        return self._count(batch, now=now, limit=limit)


class SqlLoginSessions(_SingleStatements):
    """Login sessions by token hash. The tables' columns bear the domain fields' names, so
    rows translate by name."""

    def add(self, session: LoginSession) -> None:
        self._count(_ADD_SESSION, **row_of(session))

    def get(self, token_hash: str) -> LoginSession | None:
        row = self._first(_SESSION, token_hash=token_hash)
        return None if row is None else LoginSession(**row)

    def get_with_user(self, token_hash: str) -> tuple[LoginSession, User] | None:
        row = self._first(_SESSION_WITH_USER, token_hash=token_hash)
        if row is None:
            return None
        user = User(
            row["user_id"], row["nickname"], row["email"], row["active"], row["user_created_at"]
        )
        return LoginSession(**{name: row[name] for name in _SESSION_FIELDS}), user

    def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        self._count(_TOUCH_SESSION, hash=token_hash, now=now, expires=expires_at)

    def remove(self, token_hash: str) -> int | None:
        row = self._first(_REMOVE_SESSION, token_hash=token_hash)
        return None if row is None else int(row["user_id"])

    def remove_all_of(self, user_id: int) -> int:
        return self._count(_REMOVE_SESSIONS_OF, user_id=user_id)

    def remove_all_of_except(self, user_id: int, kept_token_hash: str) -> int:
        return self._count(_REMOVE_OTHER_SESSIONS_OF, user_id=user_id, kept=kept_token_hash)

    def of_user(self, user_id: int) -> list[LoginSession]:
        with domain_errors(), self._engine.connect() as connection:
            rows = connection.execute(_SESSIONS_OF, {"user_id": user_id})
            return [LoginSession(**row._mapping) for row in rows]

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
        return User(row["id"], row["nickname"], row["email"], row["active"], row["created_at"])


class SqlTimelines(_SingleStatements):
    """A user's newest posts, read in one statement (posts are added by a unit of work)."""

    def recent_by(self, user_id: int, limit: int) -> list[Post]:
        return [Post(**row) for row in self._all(_RECENT_POSTS, user_id=user_id, limit=limit)]


class SqlLoginTransactions(_SingleStatements):
    """Logins in flight; `take` deletes and returns in one statement, so it works once."""

    def add(self, transaction: LoginTransaction) -> None:
        state = json.dumps(transaction.provider_state)
        self._count(_ADD_TRANSACTION, **row_of(transaction) | {"provider_state": state})

    def take(self, transaction_id: str) -> LoginTransaction | None:
        row = self._first(_TAKE_TRANSACTION, id=transaction_id)
        if row is None:
            return None
        fields = row | {"provider_state": json.loads(row["provider_state"])}
        return LoginTransaction(**fields)

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        return self._remove_expired(_REMOVE_EXPIRED_TRANSACTIONS, now, limit)


class SqlParkedCallbacks(_SingleStatements):
    """Provider answers waiting for their browser; `take` works once, like a transaction's."""

    def park(self, callback: ParkedCallback) -> None:
        self._count(_PARK, **row_of(callback) | {"params": json.dumps(callback.params)})

    def take(self, handle: str) -> ParkedCallback | None:
        row = self._first(_TAKE_PARKED, handle=handle)
        if row is None:
            return None
        return ParkedCallback(**row | {"params": json.loads(row["params"])})

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        return self._remove_expired(_REMOVE_EXPIRED_PARKED, now, limit)


class SqlPendingLinks(_SingleStatements):
    def add(self, link: PendingLink) -> None:
        self._count(_ADD_PENDING_LINK, **row_of(link))

    def take(self, link_id: str) -> PendingLink | None:
        row = self._first(_TAKE_PENDING_LINK, id=link_id)
        return None if row is None else PendingLink(**row)

    def remove_expired(self, now: datetime, limit: int | None = None) -> int:
        return self._remove_expired(_REMOVE_EXPIRED_PENDING_LINKS, now, limit)
