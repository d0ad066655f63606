import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, bindparam, delete, insert, select, update

from adapters.sql.errors import domain_errors
from adapters.sql.tables import login_sessions, login_transactions, users
from domain.model import LoginSession, LoginTransaction, User


# The tables' columns bear the domain fields' names, so rows translate by name.
def _session(row: Row[Any]) -> LoginSession:
    return LoginSession(**row._mapping)


_SESSION_FIELDS = [column.name for column in login_sessions.c]
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


class SqlLoginSessions:
    """Login sessions by token hash; every call is its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, session: LoginSession) -> None:
        with domain_errors(), self._engine.begin() as connection:
            connection.execute(insert(login_sessions).values(asdict(session)))

    def get(self, token_hash: str) -> LoginSession | None:
        statement = select(login_sessions).where(login_sessions.c.token_hash == token_hash)
        with domain_errors(), self._engine.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _session(row)

    def get_with_user(self, token_hash: str) -> tuple[LoginSession, User] | None:
        with domain_errors(), self._engine.connect() as connection:
            row = connection.execute(_SESSION_WITH_USER, {"token_hash": token_hash}).first()
        if row is None:
            return None
        fields = row._mapping
        user = User(row.user_id, row.nickname, row.email, row.active, row.user_created_at)
        return LoginSession(**{name: fields[name] for name in _SESSION_FIELDS}), user

    def touch(self, token_hash: str, now: datetime) -> None:
        statement = (
            update(login_sessions)
            .where(login_sessions.c.token_hash == token_hash)
            .values(last_seen_at=now)
        )
        with domain_errors(), self._engine.begin() as connection:
            connection.execute(statement)

    def remove(self, token_hash: str) -> None:
        self._delete(login_sessions.c.token_hash == token_hash)

    def remove_all_of(self, user_id: int) -> int:
        return self._delete(login_sessions.c.user_id == user_id)

    def remove_expired(self, now: datetime) -> int:
        return self._delete(login_sessions.c.expires_at <= now)

    def _delete(self, condition: Any) -> int:
        with domain_errors(), self._engine.begin() as connection:
            return connection.execute(delete(login_sessions).where(condition)).rowcount


class SqlLoginTransactions:
    """Logins in flight; `take` deletes and returns in one statement, so it works once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, transaction: LoginTransaction) -> None:
        with domain_errors(), self._engine.begin() as connection:
            row = asdict(transaction) | {"provider_state": json.dumps(transaction.provider_state)}
            connection.execute(insert(login_transactions).values(row))

    def take(self, transaction_id: str) -> LoginTransaction | None:
        statement = (
            delete(login_transactions)
            .where(login_transactions.c.id == transaction_id)
            .returning(*login_transactions.c)
        )
        with domain_errors(), self._engine.begin() as connection:
            row = connection.execute(statement).first()
        if row is None:
            return None
        fields = dict(row._mapping) | {"provider_state": json.loads(row.provider_state)}
        return LoginTransaction(**fields)

    def remove_expired(self, now: datetime) -> int:
        statement = delete(login_transactions).where(login_transactions.c.expires_at <= now)
        with domain_errors(), self._engine.begin() as connection:
            return connection.execute(statement).rowcount
