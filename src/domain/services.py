"""Application services: what the entrypoints call, each built by the container with its ports."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from domain.errors import LoginExpired, LoginMismatch, UnknownProvider
from domain.inputs import safe_next_path
from domain.model import LoginTransaction, ParkedCallback, Post, SessionPolicy, User
from domain.ports import (
    Clock,
    IdentityProvider,
    LoginSessions,
    LoginTransactions,
    ParkedCallbacks,
    TokenSource,
    UnitOfWork,
)
from domain.use_cases import (
    SignedIn,
    clean_up_expired,
    complete_login,
    current_user,
    disable_user,
    enable_user,
    find_user,
    list_users,
    log_out,
    log_out_everywhere,
    recent_posts,
)

TRANSACTION_LIFETIME = timedelta(minutes=10)
# The browser comes back for a parked answer at once; minutes are plenty.
PARKED_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class ProviderChoice:
    key: str
    name: str
    takes_identifier: bool


@dataclass(frozen=True)
class LoginStarted:
    transaction_id: str
    redirect_url: str


class Logins:
    """Signing in through the configured providers, and out again.

    A login is a transaction kept server side between `begin` and `finish`, bound to the
    browser that holds its id, used up by the first `finish` whatever its outcome.
    """

    def __init__(
        self,
        *,
        providers: Mapping[str, IdentityProvider],
        return_url: Callable[[str], str],
        transactions: LoginTransactions,
        parked: ParkedCallbacks,
        unit_of_work: Callable[[], UnitOfWork],
        sessions: LoginSessions,
        clock: Clock,
        tokens: TokenSource,
        policy: SessionPolicy,
    ) -> None:
        self._providers = providers
        self._return_url = return_url
        self._transactions = transactions
        self._parked = parked
        self._unit_of_work = unit_of_work
        self._sessions = sessions
        self._clock = clock
        self._tokens = tokens
        self.policy = policy

    def choices(self) -> list[ProviderChoice]:
        """The providers to offer, those that take a typed identifier first."""
        offered = [
            ProviderChoice(key, provider.name, provider.takes_identifier)
            for key, provider in self._providers.items()
        ]
        return sorted(offered, key=lambda choice: not choice.takes_identifier)

    def begin(
        self, provider_key: str, *, identifier: str | None, next_url: str | None, remember: bool
    ) -> LoginStarted:
        """Ask the provider where to send the browser, and keep the login's state.

        Only a same-site `next` path is kept; anything else is dropped here, once.
        """
        provider = self._provider(provider_key)
        transaction_id = self._tokens.new_token()
        redirect = provider.begin(
            transaction_id=transaction_id,
            return_to=self._return_url(provider_key),
            identifier=identifier,
        )
        now = self._clock.now()
        self._transactions.add(
            LoginTransaction(
                id=transaction_id,
                provider=provider_key,
                next_url=safe_next_path(next_url),
                remember=remember,
                created_at=now,
                expires_at=now + TRANSACTION_LIFETIME,
                provider_state=dict(redirect.state),
            )
        )
        return LoginStarted(transaction_id, redirect.url)

    def park(self, provider_key: str, callback: Mapping[str, str]) -> str:
        """Keep an answer that came without the browser's cookies; returns its handle."""
        self._provider(provider_key)
        handle = self._tokens.new_token()
        expires_at = self._clock.now() + PARKED_LIFETIME
        self._parked.park(ParkedCallback(handle, provider_key, dict(callback), expires_at))
        return handle

    def finish(
        self,
        provider_key: str,
        transaction_id: str | None,
        callback: Mapping[str, str] | None = None,
        *,
        parked_handle: str | None = None,
    ) -> SignedIn:
        """Complete the login this browser started, with the provider's answer given here or
        parked earlier under `parked_handle`; then open a session for its user."""
        transaction = self._take_transaction(transaction_id)
        if parked_handle is not None:
            parked = self._take_parked(parked_handle)
            if parked.provider != provider_key:
                raise LoginMismatch()
            callback = parked.params
        if transaction.provider != provider_key:
            raise LoginMismatch()
        verified = self._provider(provider_key).complete(callback or {}, transaction.provider_state)
        signed_in = complete_login(
            verified,
            remember=transaction.remember,
            uow=self._unit_of_work(),
            sessions=self._sessions,
            clock=self._clock,
            tokens=self._tokens,
            policy=self.policy,
        )
        return replace(signed_in, next_url=transaction.next_url)

    def current_user(self, token: str | None) -> User | None:
        return current_user(token, sessions=self._sessions, clock=self._clock, policy=self.policy)

    def log_out(self, token: str | None) -> None:
        log_out(token, sessions=self._sessions)

    def log_out_everywhere(self, user_id: int) -> int:
        return log_out_everywhere(user_id, sessions=self._sessions)

    def _provider(self, key: str) -> IdentityProvider:
        provider = self._providers.get(key)
        if provider is None:
            raise UnknownProvider()
        return provider

    def _take_transaction(self, transaction_id: str | None) -> LoginTransaction:
        transaction = self._transactions.take(transaction_id) if transaction_id else None
        if transaction is None or transaction.is_expired(self._clock.now()):
            raise LoginExpired()
        return transaction

    def _take_parked(self, handle: str) -> ParkedCallback:
        parked = self._parked.take(handle) if handle else None
        if parked is None or parked.is_expired(self._clock.now()):
            raise LoginExpired()
        return parked


@dataclass(frozen=True)
class Cleanup:
    sessions: int
    transactions: int
    parked: int


class Administration:
    """What an operator does from the command line."""

    def __init__(
        self,
        *,
        unit_of_work: Callable[[], UnitOfWork],
        writing_unit_of_work: Callable[[], UnitOfWork],
        sessions: LoginSessions,
        transactions: LoginTransactions,
        parked: ParkedCallbacks,
        clock: Clock,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._writing_unit_of_work = writing_unit_of_work
        self._sessions = sessions
        self._transactions = transactions
        self._parked = parked
        self._clock = clock

    def users(self) -> Sequence[User]:
        return list_users(uow=self._unit_of_work())

    def disable(self, nickname: str) -> User:
        """Refuse the user's logins and end all their sessions."""
        user = self._find(nickname)
        disable_user(user.id, uow=self._writing_unit_of_work(), sessions=self._sessions)
        return user

    def enable(self, nickname: str) -> User:
        user = self._find(nickname)
        enable_user(user.id, uow=self._writing_unit_of_work())
        return user

    def revoke_sessions(self, nickname: str) -> tuple[User, int]:
        user = self._find(nickname)
        return user, log_out_everywhere(user.id, sessions=self._sessions)

    def clean_up(self) -> Cleanup:
        """Delete expired sessions, abandoned logins and unclaimed parked answers."""
        return Cleanup(
            *clean_up_expired(
                sessions=self._sessions, transactions=self._transactions, clock=self._clock
            ),
            parked=self._parked.remove_expired(self._clock.now()),
        )

    def _find(self, nickname: str) -> User:
        return find_user(nickname, uow=self._unit_of_work())


class Timeline:
    """The posts a signed-in person sees."""

    def __init__(self, *, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    def recent_posts(self, user_id: int) -> Sequence[Post]:
        return recent_posts(user_id, uow=self._unit_of_work())
