"""Signing in: a round trip to a provider, from begin to its answer, and what it comes to."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from domain.audit import Recorder
from domain.errors import (
    DomainError,
    IdentityBelongsToAnotherAccount,
    LoginExpired,
    LoginMismatch,
    NothingToConnect,
    UnknownProvider,
)
from domain.inputs import safe_next_path
from domain.model import (
    Device,
    ParkedAnswer,
    ProviderPolicy,
    SessionPolicy,
    SignIn,
    VerifiedIdentity,
    WaitingIdentity,
    hash_token,
)
from domain.ports import (
    Clock,
    IdentityProvider,
    ParkedAnswers,
    Sessions,
    SignIns,
    TokenSource,
    UnitOfWork,
    WaitingIdentities,
)
from domain.provisioning import (
    Connected,
    IdentityMustWait,
    IdentityWaits,
    SignInOutcome,
    WaitingIdentityOffer,
    complete_sign_in,
    connect_identity,
)
from domain.sessions import current_user, log_out, require_recent_sign_in

SIGN_IN_LIFETIME = timedelta(minutes=10)
WAITING_IDENTITY_LIFETIME = timedelta(minutes=10)
# The browser comes back for a parked answer at once; minutes are plenty.
PARKED_LIFETIME = timedelta(minutes=5)
# Parking one answer sweeps at most this many expired ones: they cannot pile up.
PARKED_SWEEP = 100


@dataclass(frozen=True)
class ProviderChoice:
    key: str
    name: str
    takes_identifier: bool


@dataclass(frozen=True)
class SignInStarted:
    sign_in_id: str
    redirect_url: str


def provider_choices(providers: Mapping[str, IdentityProvider]) -> list[ProviderChoice]:
    """The providers to offer, those that take a typed identifier first."""
    offered = [
        ProviderChoice(key, provider.name, provider.takes_identifier)
        for key, provider in providers.items()
    ]
    return sorted(offered, key=lambda choice: not choice.takes_identifier)


@dataclass(frozen=True)
class Browser:
    """What the browser that comes back with an answer holds: the id of the sign-in it began,
    of the identity waiting in it, its session's token if signed in, and where it is."""

    sign_in_id: str | None
    waiting_identity_id: str | None = None
    session_token: str | None = None
    device: Device | None = None


@dataclass(frozen=True)
class Parked:
    """An answer parked earlier (`SignInService.park`), under its handle."""

    handle: str


class SignInService:
    """Signing in through the configured providers, and out again.

    A sign-in is kept server side between `begin` and `finish`, bound to the browser that
    holds its id, used up by the first `finish` whatever its outcome.
    """

    def __init__(
        self,
        *,
        providers: Mapping[str, IdentityProvider],
        return_url: Callable[[str], str],
        sign_ins: SignIns,
        parked: ParkedAnswers,
        waiting: WaitingIdentities,
        unit_of_work: Callable[[], UnitOfWork],
        sessions: Sessions,
        recorder: Recorder,
        clock: Clock,
        tokens: TokenSource,
        policy: SessionPolicy,
        housekeeping: Callable[[], int] = lambda: 0,
    ) -> None:
        self._housekeeping = housekeeping
        self._providers = providers
        self._return_url = return_url
        self._sign_ins = sign_ins
        self._parked = parked
        self._waiting = waiting
        self._audit = recorder
        self._unit_of_work = unit_of_work
        self._sessions = sessions
        self._clock = clock
        self._tokens = tokens
        self.policy = policy

    def choices(self) -> list[ProviderChoice]:
        return provider_choices(self._providers)

    def identifier_key(self, provider_key: str, identifier: str) -> str:
        """What a typed identifier counts as for the limits on login starts: the key the
        provider gives it (one for every spelling of one identifier), or else the text
        trimmed and casefolded (an unknown provider, a text that cannot be an identifier)."""
        provider = self._providers.get(provider_key)
        key = provider.identifier_key(identifier) if provider else None
        return key or identifier.strip().casefold()

    def begin(
        self,
        provider_key: str,
        *,
        identifier: str | None,
        next_url: str | None,
        remember: bool,
        connect_user_id: int | None = None,
    ) -> SignInStarted:
        """Ask the provider where to send the browser, and keep the login's state.

        Only a same-site `next` path is kept; anything else is dropped here, once.
        """
        provider = self._provider(provider_key)
        sign_in_id = self._tokens.new_token()
        redirect = provider.begin(
            sign_in_id=sign_in_id,
            return_to=self._return_url(provider_key),
            identifier=identifier,
        )
        now = self._clock.now()
        self._sign_ins.put(
            SignIn(
                id=sign_in_id,
                provider=provider_key,
                next_url=safe_next_path(next_url),
                remember=remember,
                created_at=now,
                expires_at=now + SIGN_IN_LIFETIME,
                provider_state=dict(redirect.state),
                connect_user_id=connect_user_id,
            )
        )
        self._housekeeping()
        return SignInStarted(sign_in_id, redirect.url)

    def park(self, provider_key: str, callback: Mapping[str, str]) -> str:
        """Keep an answer that came without the browser's cookies; returns its handle."""
        self._provider(provider_key)
        handle = self._tokens.new_token()
        now = self._clock.now()
        expires_at = now + PARKED_LIFETIME
        self._parked.put(ParkedAnswer(handle, provider_key, dict(callback), expires_at))
        self._parked.remove_expired(now, PARKED_SWEEP)  # expired ones go as new ones come
        return handle

    def begin_connect(
        self, provider_key: str, token: str | None, *, identifier: str | None, next_url: str
    ) -> SignInStarted:
        """Start a round trip that connects another identity to the signed-in user, who then
        goes to `next_url`; only within minutes of a sign-in (RecentSignInRequired)."""
        session = require_recent_sign_in(token, sessions=self._sessions, clock=self._clock)
        return self.begin(
            provider_key,
            identifier=identifier,
            next_url=next_url,
            remember=False,
            connect_user_id=session.user_id,
        )

    def finish(
        self, provider_key: str, browser: Browser, answer: Mapping[str, str] | Parked
    ) -> SignInOutcome:
        """Complete the sign-in `browser` began, with the provider's answer, or the one parked
        earlier. A sign-in opens a session, replacing the browser's own if it had one; the
        identity waiting in the browser is offered for confirmation (`SignedIn.waiting`) if
        this is its account, and discarded otherwise. A connecting round trip attaches the
        identity to the account of the browser's session, which must have begun it."""
        sign_in = self._take_sign_in(browser.sign_in_id)
        if isinstance(answer, Parked):
            parked = self._take_parked(answer.handle)
            if parked.provider != provider_key:
                raise LoginMismatch()
            answer = parked.params
        if sign_in.provider != provider_key:
            raise LoginMismatch()
        try:
            provider = self._provider(provider_key)
            verified = provider.complete(answer, sign_in.provider_state)
            signed_in_token = browser.session_token
            signed_in = current_user(
                signed_in_token, sessions=self._sessions, clock=self._clock, policy=self.policy
            )
            if sign_in.connect_user_id is not None:
                signed_in_user_id = signed_in.id if signed_in else None
                return self._connect(sign_in.connect_user_id, signed_in_user_id, verified)
            result = complete_sign_in(
                verified,
                remember=sign_in.remember,
                uow=self._unit_of_work(),
                sessions=self._sessions,
                clock=self._clock,
                tokens=self._tokens,
                policy=self.policy,
                device=browser.device,
            )
        except DomainError as refused:
            self._audit.record("sign_in.refused", None, provider_key, type(refused).__name__)
            raise
        if isinstance(result, IdentityMustWait):
            return self._keep_waiting_identity(result.owner_id, verified)
        self._audit.record("sign_in.succeeded", result.user.id, provider_key)
        if signed_in is not None:
            self._log_out(signed_in_token)  # signing in again replaces this browser's session
        waiting = self._offer_waiting_identity(
            browser.waiting_identity_id, result.user.id, result.token
        )
        return replace(result, next_url=sign_in.next_url, waiting=waiting)

    def connect_waiting_identity(self, waiting_identity_id: str | None, token: str | None) -> str:
        """Connect the waiting identity offered under `waiting_identity_id` (`SignedIn.waiting`)
        to the account of session `token`, which must be the session of that sign-in, still
        open, within the waiting identity's 10 minutes. Returns the provider's name, or raises
        NothingToConnect; an offer found is used up either way."""
        waiting = self._take_offered_waiting_identity(waiting_identity_id, token)
        if waiting is None:
            raise NothingToConnect()
        now = self._clock.now()
        if waiting.is_expired(now):
            self._discard(waiting, "expired")
            raise NothingToConnect()
        session = self._sessions.get(hash_token(token)) if token else None
        if session is None or session.is_expired(now) or session.user_id != waiting.owner_id:
            self._discard(waiting, "its sign-in ended")
            raise NothingToConnect()
        verified = VerifiedIdentity(
            ProviderPolicy(waiting.provider), waiting.namespace, waiting.subject
        )
        try:
            connect_identity(self._unit_of_work(), waiting.owner_id, verified, self._clock)
        except IdentityBelongsToAnotherAccount:
            self._discard(waiting, "connected to another account meanwhile")
            raise  # it never moves
        self._audit.record("identity.confirmed", waiting.owner_id, waiting.provider)
        return self._name_of(waiting.provider)

    def discard_waiting_identity(
        self, waiting_identity_id: str | None, token: str | None, reason: str
    ) -> str | None:
        """Forget the login offered under `waiting_identity_id` to session `token`, unconnected; the
        provider's name, or None when there was none."""
        waiting = self._take_offered_waiting_identity(waiting_identity_id, token)
        if waiting is None:
            return None
        self._discard(waiting, reason)
        return self._name_of(waiting.provider)

    def _log_out(self, token: str | None) -> None:
        user_id = log_out(token, sessions=self._sessions)
        if user_id is not None:
            self._audit.record("sign_out", user_id)

    def _provider(self, key: str) -> IdentityProvider:
        provider = self._providers.get(key)
        if provider is None:
            raise UnknownProvider()
        return provider

    def _take_sign_in(self, sign_in_id: str | None) -> SignIn:
        sign_in = self._sign_ins.take(sign_in_id) if sign_in_id else None
        if sign_in is None or sign_in.is_expired(self._clock.now()):
            raise LoginExpired()
        return sign_in

    def _connect(
        self, user_id: int, signed_in_user_id: int | None, verified: VerifiedIdentity
    ) -> Connected:
        if signed_in_user_id != user_id:
            raise LoginMismatch()  # signed out, or someone else, since the round trip began
        added = connect_identity(self._unit_of_work(), user_id, verified, self._clock)
        if added:
            self._audit.record("identity.connected", user_id, verified.provider)
        return Connected(self._providers[verified.provider].name, added)

    def _keep_waiting_identity(self, owner_id: int, verified: VerifiedIdentity) -> IdentityWaits:
        waiting = WaitingIdentity(
            id=self._tokens.new_token(),
            owner_id=owner_id,
            provider=verified.provider,
            namespace=verified.namespace,
            subject=verified.subject,
            expires_at=self._clock.now() + WAITING_IDENTITY_LIFETIME,
        )
        self._waiting.put(waiting)
        self._audit.record("identity.waiting", owner_id, verified.provider)
        return IdentityWaits(waiting.id)

    def _offer_waiting_identity(
        self, waiting_identity_id: str | None, user_id: int, token: str
    ) -> WaitingIdentityOffer | None:
        """The identity waiting in this browser, if it waits for the account just signed in
        to: kept under a new id bound to this sign-in's session `token`, for it to confirm.
        Any other sign-in discards it."""
        waiting = self._waiting.take(waiting_identity_id) if waiting_identity_id else None
        if waiting is None:
            return None
        if waiting.is_expired(self._clock.now()):
            self._discard(waiting, "expired")
            return None
        if waiting.owner_id != user_id:
            self._discard(waiting, "another account signed in")
            return None
        offer = self._tokens.new_token()
        self._waiting.put(replace(waiting, id=_waiting_offer_id(offer, token)))
        name = self._name_of(waiting.provider)
        return WaitingIdentityOffer(offer, name, waiting.namespace, waiting.subject)

    def _take_offered_waiting_identity(
        self, offer: str | None, token: str | None
    ) -> WaitingIdentity | None:
        return self._waiting.take(_waiting_offer_id(offer, token)) if offer and token else None

    def _discard(self, waiting: WaitingIdentity, reason: str) -> None:
        self._audit.record("identity.discarded", waiting.owner_id, waiting.provider, reason)

    def _name_of(self, provider_key: str) -> str:
        provider = self._providers.get(provider_key)
        return provider.name if provider else provider_key

    def _take_parked(self, handle: str) -> ParkedAnswer:
        parked = self._parked.take(handle) if handle else None
        if parked is None or parked.is_expired(self._clock.now()):
            raise LoginExpired()
        return parked


def _waiting_offer_id(offer: str, token: str) -> str:
    """The key a waiting login is offered under after a sign-in: the offer's id, which that
    browser keeps, with the session token of that sign-in, so that no other session (even
    one that learnt the offer's id) finds it."""
    return hash_token(f"{offer}:{token}")
