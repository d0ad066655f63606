from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, Executable, Result, Row, insert, select, update

from adapters.sql.engine import SQLITE_IMMEDIATE
from adapters.sql.errors import domain_errors
from adapters.sql.tables import identities, posts, users
from domain.model import Identity, NewUser, Post, User
from domain.nicknames import nickname_key


class _Database:
    """The unit of work's connection, speaking in domain errors."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def execute(self, statement: Executable) -> Result[Any]:
        with domain_errors():
            return self._connection.execute(statement)


def _user(row: Row[Any]) -> User:
    return User(row.id, row.nickname, row.email, row.active, row.created_at)


def _maybe_user(row: Row[Any] | None) -> User | None:
    return None if row is None else _user(row)


class SqlUsers:
    def __init__(self, database: _Database) -> None:
        self._db = database

    def get(self, user_id: int) -> User | None:
        return _maybe_user(self._db.execute(select(users).where(users.c.id == user_id)).first())

    def by_nickname(self, nickname: str) -> User | None:
        key = nickname_key(nickname)
        statement = select(users).where(users.c.nickname_key == key)
        return _maybe_user(self._db.execute(statement).first())

    def by_email(self, email: str) -> User | None:
        return _maybe_user(self._db.execute(select(users).where(users.c.email == email)).first())

    def nickname_taken(self, key: str) -> bool:
        statement = select(users.c.id).where(users.c.nickname_key == key)
        return self._db.execute(statement).first() is not None

    def add(self, new_user: NewUser) -> User:
        statement = (
            insert(users)
            .values(
                nickname=new_user.nickname,
                nickname_key=nickname_key(new_user.nickname),
                email=new_user.email,
                active=True,
                created_at=new_user.created_at,
            )
            .returning(users.c.id)
        )
        user_id = self._db.execute(statement).scalar_one()
        return User(user_id, new_user.nickname, new_user.email, True, new_user.created_at)

    def set_active(self, user_id: int, active: bool) -> None:
        self._db.execute(update(users).where(users.c.id == user_id).values(active=active))

    def list(self) -> Sequence[User]:
        return [_user(row) for row in self._db.execute(select(users).order_by(users.c.id))]


class SqlIdentities:
    def __init__(self, database: _Database) -> None:
        self._db = database

    def owner_of(self, provider: str, subject: str) -> int | None:
        statement = select(identities.c.user_id).where(
            identities.c.provider == provider, identities.c.subject == subject
        )
        return self._db.execute(statement).scalar_one_or_none()

    def add(self, identity: Identity) -> None:
        self._db.execute(
            insert(identities).values(
                provider=identity.provider, subject=identity.subject, user_id=identity.user_id
            )
        )

    def of_user(self, user_id: int) -> Sequence[Identity]:
        rows = self._db.execute(select(identities).where(identities.c.user_id == user_id))
        return [Identity(r.provider, r.subject, r.user_id) for r in rows]


class SqlPosts:
    def __init__(self, database: _Database) -> None:
        self._db = database

    def add(self, user_id: int, body: str, created_at: datetime) -> Post:
        statement = (
            insert(posts)
            .values(user_id=user_id, body=body, created_at=created_at)
            .returning(posts.c.id)
        )
        return Post(self._db.execute(statement).scalar_one(), user_id, body, created_at)

    def recent_by(self, user_id: int, limit: int) -> Sequence[Post]:
        statement = (
            select(posts.c.id, posts.c.user_id, posts.c.body, posts.c.created_at)
            .where(posts.c.user_id == user_id)
            .order_by(posts.c.created_at.desc(), posts.c.id.desc())
            .limit(limit)
        )
        return [Post(**row._mapping) for row in self._db.execute(statement)]


class SqlAlchemyUnitOfWork:
    """One database transaction; rolled back on exit unless `commit` was called.

    `writing=True` (provisioning, account changes) takes SQLite's write lock at the start.
    """

    users: SqlUsers
    identities: SqlIdentities
    posts: SqlPosts

    def __init__(self, engine: Engine, writing: bool = False) -> None:
        self._engine = engine
        self._writing = writing
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        with domain_errors():
            # The connection begins a transaction by itself on its first statement.
            self._connection = self._engine.connect()
        if self._writing:
            self._connection.execution_options(**{SQLITE_IMMEDIATE: True})
        database = _Database(self._connection)
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
        assert self._connection is not None, "commit outside `with uow:`"
        with domain_errors():
            self._connection.commit()

    def rollback(self) -> None:
        assert self._connection is not None, "rollback outside `with uow:`"
        self._connection.rollback()
