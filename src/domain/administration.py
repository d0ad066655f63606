"""Administration: what an operator does from the command line."""

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.audit import Recorder
from domain.errors import UserNotFound
from domain.model import AuditEvent, User
from domain.ports import (
    AuditTrail,
    Clock,
    ParkedAnswers,
    Sessions,
    SignIns,
    UnitOfWork,
    WaitingIdentities,
)
from domain.sessions import log_out_everywhere


@dataclass(frozen=True)
class Cleanup:
    sessions: int
    sign_ins: int
    parked_answers: int
    waiting_identities: int


class Administration:
    """What an operator does from the command line."""

    def __init__(
        self,
        *,
        unit_of_work: Callable[[], UnitOfWork],
        writing_unit_of_work: Callable[[], UnitOfWork],
        sessions: Sessions,
        sign_ins: SignIns,
        parked: ParkedAnswers,
        waiting: WaitingIdentities,
        audit: AuditTrail,
        recorder: Recorder,
        clock: Clock,
    ) -> None:
        self._audit_trail = audit
        self._audit = recorder
        self._unit_of_work = unit_of_work
        self._writing_unit_of_work = writing_unit_of_work
        self._sessions = sessions
        self._sign_ins = sign_ins
        self._parked = parked
        self._waiting = waiting
        self._clock = clock

    def users(self) -> Sequence[User]:
        uow = self._unit_of_work()
        with uow:
            return uow.users.list()

    def disable(self, nickname: str) -> User:
        """Refuse the user's logins and end all their sessions."""
        user = self._find(nickname)
        disable_user(user.id, uow=self._writing_unit_of_work(), sessions=self._sessions)
        self._audit.record("account.disabled", user.id)
        return user

    def enable(self, nickname: str) -> User:
        user = self._find(nickname)
        enable_user(user.id, uow=self._writing_unit_of_work())
        self._audit.record("account.enabled", user.id)
        return user

    def revoke_sessions(self, nickname: str) -> tuple[User, int]:
        user = self._find(nickname)
        ended = log_out_everywhere(user.id, sessions=self._sessions)
        self._audit.record(
            "account.signed_out_everywhere", user.id, detail=f"{ended} sessions, by an operator"
        )
        return user, ended

    def audit(
        self, *, nickname: str | None = None, since: datetime | None = None
    ) -> Sequence[AuditEvent]:
        """Audit events, oldest first; of one user, since a moment, when asked."""
        user_id = self._find(nickname).id if nickname else None
        return self._audit_trail.events(user_id=user_id, since=since)

    def clean_up(self) -> Cleanup:
        """Delete expired sessions, abandoned logins, unclaimed parked answers and links."""
        now = self._clock.now()
        return Cleanup(
            sessions=self._sessions.remove_expired(now),
            sign_ins=self._sign_ins.remove_expired(now),
            parked_answers=self._parked.remove_expired(now),
            waiting_identities=self._waiting.remove_expired(now),
        )

    def _find(self, nickname: str) -> User:
        return find_user(nickname, uow=self._unit_of_work())


def find_user(nickname: str, *, uow: UnitOfWork) -> User:
    """The user with this nickname, compared case-insensitively; UserNotFound if none.

    A look-alike is not the same nickname here: an operator who types "\u0430dmin" (Cyrillic
    a) means that account, not "admin", which shares its key (accounts older than the
    look-alike rule may hold look-alike nicknames under distinct keys)."""
    wanted = _same_letters(nickname)
    with uow:
        user = uow.users.by_nickname(nickname)
        if user is None or _same_letters(user.nickname) != wanted:
            user = next((u for u in uow.users.list() if _same_letters(u.nickname) == wanted), None)
    if user is None:
        raise UserNotFound(f"There is no user called {nickname!r}.")
    return user


def _same_letters(nickname: str) -> str:
    return unicodedata.normalize("NFKC", nickname.casefold())


def _set_active(user_id: int, active: bool, uow: UnitOfWork) -> None:
    with uow:
        if uow.users.get(user_id) is None:
            raise UserNotFound()
        uow.users.set_active(user_id, active)
        uow.commit()


def disable_user(user_id: int, *, uow: UnitOfWork, sessions: Sessions) -> None:
    """A disabled user cannot log in and is signed out everywhere."""
    _set_active(user_id, False, uow)
    sessions.remove_all_of(user_id)


def enable_user(user_id: int, *, uow: UnitOfWork) -> None:
    _set_active(user_id, True, uow)
