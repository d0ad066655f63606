"""Signing out where it reaches the provider: Logout that ends the person's sign-in at the
provider too (when the provider is set to), and a provider's logout notice that ends the
sessions opened through it. "Log out everywhere" and ending a device stay on the site
(domain/sessions.py, domain/account.py)."""

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from domain.audit import Recorder
from domain.errors import Conflict, DomainError, LogoutNoticeRefused
from domain.model import LogoutNotice, SeenLogoutNotice, hash_token
from domain.ports import Clock, ProviderSignOut, SeenLogoutNotices, Sessions, TokenSource
from domain.sessions import end_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignedOut:
    """After Logout: the browser goes to `provider_url` to end its sign-in at the provider
    too, and keeps `state` to show on its way back; or, with neither, stays on the site."""

    provider: str | None = None
    provider_url: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class KeptSignOut:
    """What the browser keeps while it is at the provider: where it went, and the state."""

    provider: str
    state: str


class SignOutService:
    """Logout that reaches the provider, and logouts that come back from it."""

    def __init__(
        self,
        *,
        sign_outs: Mapping[str, ProviderSignOut],
        return_url: Callable[[str], str],
        sessions: Sessions,
        seen_notices: SeenLogoutNotices,
        recorder: Recorder,
        clock: Clock,
        tokens: TokenSource,
    ) -> None:
        self._sign_outs = sign_outs
        self._return_url = return_url
        self._sessions = sessions
        self._seen = seen_notices
        self._audit = recorder
        self._clock = clock
        self._tokens = tokens

    def log_out(self, token: str | None) -> SignedOut:
        """End this browser's session (its remember-me cookie dies with it); then, if its
        provider is set to sign out there too, where to send the browser for that."""
        # Where the session came from matters only where a provider is set to sign out too.
        session = self._sessions.get(hash_token(token)) if token and self._sign_outs else None
        if end_session(token, sessions=self._sessions, recorder=self._audit) is None:
            return SignedOut()
        provider = self._sign_outs.get(session.provider) if session and session.provider else None
        if session is None or session.provider is None or provider is None:
            return SignedOut()
        state = self._tokens.new_token()
        try:
            url = provider.end_session_redirect(
                logout_hint=session.logout_hint,
                return_to=self._return_url(session.provider),
                state=state,
            )
        except DomainError as trouble:
            # Signed out here all the same; the provider's sign-in stays.
            log.info("Sign-out at provider %s skipped: %r", session.provider, trouble)
            return SignedOut()
        return SignedOut(session.provider, url, state) if url else SignedOut()

    def came_back(self, provider_key: str, kept: KeptSignOut | None, state: str | None) -> bool:
        """Whether the browser comes back from signing out at this provider with the state it
        was sent there with (kept by the browser, single use: the caller drops it)."""
        if kept is None or not state or kept.provider != provider_key:
            return False
        return hmac.compare_digest(kept.state.encode(), state.encode())

    def end_sessions_from_provider(self, provider_key: str, notice: Mapping[str, str]) -> int:
        """Act on a provider's logout notice (its form fields): end the sessions of the
        provider session it names, or else of its subject, remember-me included. How many
        ended (none when they had ended already); LogoutNoticeRefused if not acted on."""
        provider = self._sign_outs.get(provider_key)
        if provider is None:
            raise LogoutNoticeRefused("There is no such provider here, or it sends no logouts.")
        checked = provider.verified_logout_notice(notice)
        self._remember_once(provider_key, checked)
        if checked.provider_session_id is not None:
            ended = self._sessions.remove_by_provider_session(
                provider_key, checked.provider_session_id
            )
        else:
            assert checked.subject is not None  # a notice names one or the other
            ended = self._sessions.remove_by_subject(provider_key, checked.subject)
        for user_id in sorted(set(ended)):
            count = ended.count(user_id)
            self._audit.record(
                "session.ended_by_provider", user_id, provider_key, f"{count} sessions"
            )
        return len(ended)

    def _remember_once(self, provider_key: str, notice: LogoutNotice) -> None:
        key = hash_token(f"{provider_key}:{notice.notice_id}")
        try:
            self._seen.put(SeenLogoutNotice(key, notice.usable_until))
        except Conflict:
            raise LogoutNoticeRefused("This logout notice was used already.") from None
