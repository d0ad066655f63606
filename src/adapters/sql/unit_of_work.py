from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Result,
    Row,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from adapters.sql.engine import SQLITE_IMMEDIATE
from adapters.sql.errors import domain_errors
from adapters.sql.tables import identities, nickname_suffixes, posts, row_of, users
from domain.model import Identity, NewUser, Post, User
from domain.nicknames import first_suffix, nickname_key

# Built once: SQLAlchemy then finds each compiled statement in its cache at once.
USER_BY_ID = select(users).where(users.c.id == bindparam("id"))
_USER_BY_NICKNAME_KEY = select(users).where(users.c.nickname_key == bindparam("key"))
_USER_BY_EMAIL = select(users).where(users.c.email == bindparam("email"))
_USER_OF_IDENTITY = (
    select(users)
    .join(identities, identities.c.user_id == users.c.id)
    .where(
        identities.c.namespace == bindparam("namespace"),
        identities.c.subject == bindparam("subject"),
    )
)
_NICKNAME_TAKEN = select(users.c.id).where(users.c.nickname_key == bindparam("key"))
_NEXT_SUFFIX = (
    update(nickname_suffixes)
    .where(nickname_suffixes.c.base_key == bindparam("key"))
    .values(last_suffix=nickname_suffixes.c.last_suffix + 1)
    .returning(nickname_suffixes.c.last_suffix)
)
_KEYS_STARTING_WITH = select(users.c.nickname_key).where(
    users.c.nickname_key.like(bindparam("pattern"), escape="\\")
)
_FIRST_SUFFIX = insert(nickname_suffixes)
_ADD_USER = insert(users).returning(users.c.id)
# An update's own parameters may not bear its columns' names.
_SET_ACTIVE = (
    update(users).where(users.c.id == bindparam("user_id")).values(active=bindparam("is_active"))
)
_SET_LANGUAGE = (
    update(users).where(users.c.id == bindparam("user_id")).values(language=bindparam("chosen"))
)
_RENAME = (
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values(nickname=bindparam("new_nickname"), nickname_key=bindparam("new_key"))
)
_LOCK_USER = select(users.c.id).where(users.c.id == bindparam("id")).with_for_update()
_ALL_USERS = select(users).order_by(users.c.id)
_OWNER_OF_IDENTITY = select(identities.c.user_id).where(
    identities.c.namespace == bindparam("namespace"), identities.c.subject == bindparam("subject")
)
_ADD_IDENTITY = insert(identities)
_IDENTITIES_OF = (
    select(identities)
    .where(identities.c.user_id == bindparam("user_id"))
    .order_by(identities.c.created_at, identities.c.namespace, identities.c.subject)
)
_THE_IDENTITY = (
    identities.c.namespace == bindparam("ns"),
    identities.c.subject == bindparam("sub"),
)
_REMOVE_IDENTITY = delete(identities).where(*_THE_IDENTITY).returning(identities.c.user_id)
_TOUCH_IDENTITY = (
    update(identities)
    .where(*_THE_IDENTITY)
    .values(last_used_at=bindparam("now"), handle=bindparam("handle"))
)
_ADD_POST = insert(posts).returning(posts.c.id)


class _Database:
    """The unit of work's connection, speaking in domain errors. It notes the accounts the
    transaction changes (nickname, status, language, identities, posts), and those it creates."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.changed: set[int] = set()
        self.created: set[int] = set()

    def take_changed(self) -> set[int]:
        """The accounts that were there before and changed since the last call."""
        changed = self.changed - self.created
        self.changed, self.created = set(), set()
        return changed

    def execute(self, statement: Executable, **parameters: Any) -> Result[Any]:
        with domain_errors():
            return self._connection.execute(statement, parameters)

    def user(self, statement: Executable, **parameters: Any) -> User | None:
        row = self.execute(statement, **parameters).first()
        return None if row is None else user_of(row)


def user_of(row: Row[Any]) -> User:
    return User(row.id, row.nickname, row.email, row.active, row.created_at, row.language)


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class SqlUsers:
    def __init__(self, database: _Database) -> None:
        self._db = database

    def get(self, user_id: int) -> User | None:
        return self._db.user(USER_BY_ID, id=user_id)

    def by_nickname(self, nickname: str) -> User | None:
        return self._db.user(_USER_BY_NICKNAME_KEY, key=nickname_key(nickname))

    def by_email(self, email: str) -> User | None:
        return self._db.user(_USER_BY_EMAIL, email=email)

    def of_identity(self, namespace: str, subject: str) -> User | None:
        return self._db.user(_USER_OF_IDENTITY, namespace=namespace, subject=subject)

    def nickname_taken(self, key: str) -> bool:
        return self._db.execute(_NICKNAME_TAKEN, key=key).first() is not None

    def next_nickname_suffix(self, key: str) -> int:
        # One statement, except the first time a nickname is taken twice: then one scan of
        # the nicknames that start with it (made before this table, or by renames).
        last = self._db.execute(_NEXT_SUFFIX, key=key).scalar_one_or_none()
        if last is not None:
            return int(last)
        rows = self._db.execute(_KEYS_STARTING_WITH, pattern=_like_prefix(key))
        first = first_suffix(key, (taken for (taken,) in rows))
        self._db.execute(_FIRST_SUFFIX, base_key=key, last_suffix=first)
        return first

    def add(self, new_user: NewUser) -> User:
        user_id = self._db.execute(
            _ADD_USER,
            nickname=new_user.nickname,
            nickname_key=nickname_key(new_user.nickname),
            email=new_user.email,
            active=True,
            created_at=new_user.created_at,
        ).scalar_one()
        self._db.created.add(user_id)
        return User(user_id, new_user.nickname, new_user.email, True, new_user.created_at)

    def rename(self, user_id: int, nickname: str) -> None:
        key = nickname_key(nickname)
        self._db.execute(_RENAME, user_id=user_id, new_nickname=nickname, new_key=key)
        self._db.changed.add(user_id)

    def lock(self, user_id: int) -> None:
        # PostgreSQL holds the row; SQLite's writing units of work hold the whole database.
        self._db.execute(_LOCK_USER, id=user_id)

    def set_active(self, user_id: int, active: bool) -> None:
        self._db.execute(_SET_ACTIVE, user_id=user_id, is_active=active)
        self._db.changed.add(user_id)

    def set_language(self, user_id: int, language: str) -> None:
        self._db.execute(_SET_LANGUAGE, user_id=user_id, chosen=language)
        self._db.changed.add(user_id)

    def list(self) -> Sequence[User]:
        return [user_of(row) for row in self._db.execute(_ALL_USERS)]


class SqlIdentities:
    def __init__(self, database: _Database) -> None:
        self._db = database

    def owner_of(self, namespace: str, subject: str) -> int | None:
        result = self._db.execute(_OWNER_OF_IDENTITY, namespace=namespace, subject=subject)
        return result.scalar_one_or_none()

    def add(self, identity: Identity) -> None:
        self._db.execute(_ADD_IDENTITY, **row_of(identity))
        self._db.changed.add(identity.user_id)

    def of_user(self, user_id: int) -> Sequence[Identity]:
        rows = self._db.execute(_IDENTITIES_OF, user_id=user_id)
        return [Identity(**row._mapping) for row in rows]

    def remove(self, namespace: str, subject: str) -> None:
        owners = self._db.execute(_REMOVE_IDENTITY, ns=namespace, sub=subject).scalars()
        self._db.changed.update(owners)

    def touch(self, namespace: str, subject: str, now: datetime, handle: str | None) -> None:
        self._db.execute(_TOUCH_IDENTITY, ns=namespace, sub=subject, now=now, handle=handle)


class SqlPosts:
    def __init__(self, database: _Database) -> None:
        self._db = database

    def add(self, user_id: int, body: str, created_at: datetime) -> Post:
        result = self._db.execute(_ADD_POST, user_id=user_id, body=body, created_at=created_at)
        self._db.changed.add(user_id)  # what other stores keep of its page goes
        return Post(result.scalar_one(), user_id, body, created_at)


class SqlAlchemyUnitOfWork:
    """One database transaction; rolled back on exit unless `commit` was called.

    `writing=True` (provisioning, account changes) takes SQLite's write lock at the start.
    Around a commit that changed accounts (a rename, a status, a language, an identity
    connected or disconnected, a post added), `accounts_changed` is told their ids: what
    other stores keep of them goes.
    """

    users: SqlUsers
    identities: SqlIdentities
    posts: SqlPosts

    def __init__(
        self,
        engine: Engine,
        writing: bool = False,
        accounts_changed: Callable[[set[int]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._writing = writing
        self._accounts_changed = accounts_changed
        self._connection: Connection | None = None
        self._database: _Database | None = None

    def __enter__(self) -> Self:
        with domain_errors():
            # The connection begins a transaction by itself on its first statement.
            self._connection = self._engine.connect()
        if self._writing:
            self._connection.execution_options(**{SQLITE_IMMEDIATE: True})
        database = self._database = _Database(self._connection)
        self.users = SqlUsers(database)
        self.identities = SqlIdentities(database)
        self.posts = SqlPosts(database)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # rolls back whatever was not committed

    def commit(self) -> None:
        """Before the commit the other stores drop what they keep of the changed accounts,
        so one that cannot be reached stops the commit; after it they drop it again, with
        whatever was read in between."""
        assert self._connection is not None and self._database, "commit outside `with uow:`"
        changed = self._database.take_changed()
        tell = self._accounts_changed if changed else None
        if tell is not None:
            tell(changed)
        with domain_errors():
            self._connection.commit()
        if tell is not None:
            tell(changed)

    def rollback(self) -> None:
        assert self._connection is not None and self._database, "rollback outside `with uow:`"
        self._connection.rollback()
        self._database.take_changed()
