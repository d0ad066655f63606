import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select, update

from adapters.sql.errors import domain_errors
from adapters.sql.tables import login_sessions, login_transactions
from domain.model import LoginSession, LoginTransaction


def _session(row: Row[Any]) -> LoginSession:
    return LoginSession(
        token_hash=row.token_hash,
        user_id=row.user_id,
        remember=row.remember,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
    )


class SqlLoginSessions:
    """Login sessions by token hash; every call is its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, session: LoginSession) -> None:
        with domain_errors(), self._engine.begin() as connection:
            connection.execute(
                insert(login_sessions).values(
                    token_hash=session.token_hash,
                    user_id=session.user_id,
                    remember=session.remember,
                    created_at=session.created_at,
                    last_seen_at=session.last_seen_at,
                    expires_at=session.expires_at,
                )
            )

    def get(self, token_hash: str) -> LoginSession | None:
        statement = select(login_sessions).where(login_sessions.c.token_hash == token_hash)
        with domain_errors(), self._engine.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _session(row)

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
            connection.execute(
                insert(login_transactions).values(
                    id=transaction.id,
                    provider=transaction.provider,
                    next_url=transaction.next_url,
                    remember=transaction.remember,
                    provider_state=json.dumps(transaction.provider_state),
                    created_at=transaction.created_at,
                    expires_at=transaction.expires_at,
                )
            )

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
        return LoginTransaction(
            id=row.id,
            provider=row.provider,
            next_url=row.next_url,
            remember=row.remember,
            created_at=row.created_at,
            expires_at=row.expires_at,
            provider_state=json.loads(row.provider_state),
        )

    def remove_expired(self, now: datetime) -> int:
        statement = delete(login_transactions).where(login_transactions.c.expires_at <= now)
        with domain_errors(), self._engine.begin() as connection:
            return connection.execute(statement).rowcount
