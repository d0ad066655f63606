"""Sessions: which browser is signed in to which account, and for how long; and the service
that says who a browser is and signs it out."""

from datetime import timedelta

from domain.audit import Recorder
from domain.errors import RecentSignInRequired
from domain.model import Session, SessionPolicy, User, hash_token
from domain.ports import Clock, Sessions

RECENT_SIGN_IN = timedelta(minutes=10)


def current_user(
    token: str | None,
    *,
    sessions: Sessions,
    clock: Clock,
    policy: SessionPolicy,
) -> User | None:
    """The user a session token signs in, or None when expired, idle too long (without
    remember-me), revoked or disabled."""
    if not token:
        return None
    token_hash = hash_token(token)
    found = sessions.get_with_user(token_hash)
    if found is None:
        return None
    session, user = found
    now = clock.now()
    if session.is_expired(now) or session.is_idle(now, policy):
        sessions.remove(token_hash)
        return None
    if not user.active:
        return None
    if session.needs_touch(now, policy):
        # Without remember-me, the session's expiry moves with it: idle-limit after now.
        sessions.touch(token_hash, now, policy.expiry(session.created_at, session.remember, now))
    return user


def require_recent_sign_in(token: str | None, *, sessions: Sessions, clock: Clock) -> Session:
    """The browser's session if it was opened within RECENT_SIGN_IN; else
    RecentSignInRequired. Connecting or disconnecting logins needs a fresh proof."""
    session = sessions.get(hash_token(token)) if token else None
    if session is None or clock.now() - session.created_at > RECENT_SIGN_IN:
        raise RecentSignInRequired()
    return session


def log_out(token: str | None, *, sessions: Sessions) -> int | None:
    """End one browser's session; its remember-me cookie dies with it. Returns the id of
    the user it signed in, if it was still open."""
    return sessions.remove(hash_token(token)) if token else None


def end_session(token: str | None, *, sessions: Sessions, recorder: Recorder) -> int | None:
    """`log_out`, audited as `session.ended` when a session did end."""
    user_id = log_out(token, sessions=sessions)
    if user_id is not None:
        recorder.record("session.ended", user_id)
    return user_id


def log_out_everywhere(user_id: int, *, sessions: Sessions) -> int:
    """End every session of a user, on every browser. Returns how many ended."""
    return sessions.remove_all_of(user_id)


class SessionService:
    """Who a browser is signed in as, and signing it out everywhere (Logout of one browser,
    which may reach its provider, is domain/sign_out.py's)."""

    def __init__(
        self, *, sessions: Sessions, recorder: Recorder, clock: Clock, policy: SessionPolicy
    ) -> None:
        self._sessions = sessions
        self._audit = recorder
        self._clock = clock
        self.policy = policy

    def current_user(self, token: str | None) -> User | None:
        return current_user(token, sessions=self._sessions, clock=self._clock, policy=self.policy)

    def log_out_everywhere(self, user_id: int) -> int:
        """End every session of a user, on every browser; how many ended."""
        ended = log_out_everywhere(user_id, sessions=self._sessions)
        self._audit.record("account.signed_out_everywhere", user_id, detail=f"{ended} sessions")
        return ended
