"""What a sign-in comes to once its provider has answered: a session, an identity waiting
for its account, or an identity connected to the signed-in account."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from domain.audit import Recorder
from domain.errors import (
    DomainError,
    IdentityBelongsToAnotherAccount,
    NothingToConnect,
    SignInMismatch,
)
from domain.model import (
    Device,
    ProviderPolicy,
    SessionPolicy,
    VerifiedIdentity,
    WaitingIdentity,
    hash_token,
)
from domain.ports import Clock, Sessions, TokenSource, UnitOfWork, WaitingIdentities
from domain.provisioning import (
    Connected,
    IdentityMustWait,
    IdentityWaits,
    SignInOutcome,
    WaitingIdentityOffer,
    complete_sign_in,
    connect_identity,
)
from domain.round_trips import Parked, RoundTrips
from domain.sessions import current_user, end_session

WAITING_IDENTITY_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class Browser:
    """What the browser that comes back with an answer holds: the id of the sign-in it began,
    of the identity waiting in it, its session's token if signed in, and where it is."""

    sign_in_id: str | None
    waiting_identity_id: str | None = None
    session_token: str | None = None
    device: Device | None = None


class SignInService:
    """Finishing sign-ins begun through `RoundTrips`, and confirming the identities that
    wait for an account."""

    def __init__(
        self,
        *,
        round_trips: RoundTrips,
        waiting: WaitingIdentities,
        unit_of_work: Callable[[], UnitOfWork],
        sessions: Sessions,
        recorder: Recorder,
        clock: Clock,
        tokens: TokenSource,
        policy: SessionPolicy,
    ) -> None:
        self._round_trips = round_trips
        self._waiting = waiting
        self._unit_of_work = unit_of_work
        self._sessions = sessions
        self._audit = recorder
        self._clock = clock
        self._tokens = tokens
        self.policy = policy

    def finish(
        self, provider_key: str, browser: Browser, answer: Mapping[str, str] | Parked
    ) -> SignInOutcome:
        """Complete the sign-in `browser` began, with the provider's answer, or the one parked
        earlier. A sign-in opens a session, replacing the browser's own if it had one; the
        identity waiting in the browser is offered for confirmation (`SignedIn.waiting`) if
        this is its account, and discarded otherwise. A connecting round trip attaches the
        identity to the account of the browser's session, which must have begun it."""
        taken = self._round_trips.take(provider_key, browser.sign_in_id, answer)
        sign_in = taken.sign_in
        try:
            verified = self._round_trips.verify(taken)
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
            # signing in again replaces this browser's session
            end_session(signed_in_token, sessions=self._sessions, recorder=self._audit)
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
            ProviderPolicy(waiting.provider),
            waiting.namespace,
            waiting.subject,
            handle=waiting.handle,
        )
        try:
            connect_identity(self._unit_of_work(), waiting.owner_id, verified, self._clock)
        except IdentityBelongsToAnotherAccount:
            self._discard(waiting, "connected to another account meanwhile")
            raise  # it never moves
        self._audit.record("identity.confirmed", waiting.owner_id, waiting.provider)
        return self._round_trips.name_of(waiting.provider)

    def discard_waiting_identity(
        self, waiting_identity_id: str | None, token: str | None, reason: str
    ) -> str | None:
        """Forget the identity offered under `waiting_identity_id` to session `token`, unconnected;
        the provider's name, or None when there was none."""
        waiting = self._take_offered_waiting_identity(waiting_identity_id, token)
        if waiting is None:
            return None
        self._discard(waiting, reason)
        return self._round_trips.name_of(waiting.provider)

    def _connect(
        self, user_id: int, signed_in_user_id: int | None, verified: VerifiedIdentity
    ) -> Connected:
        if signed_in_user_id != user_id:
            raise SignInMismatch()  # signed out, or someone else, since the round trip began
        added = connect_identity(self._unit_of_work(), user_id, verified, self._clock)
        if added:
            self._audit.record("identity.connected", user_id, verified.provider)
        return Connected(self._round_trips.name_of(verified.provider), added)

    def _keep_waiting_identity(self, owner_id: int, verified: VerifiedIdentity) -> IdentityWaits:
        waiting = WaitingIdentity(
            id=self._tokens.new_token(),
            owner_id=owner_id,
            provider=verified.provider,
            namespace=verified.namespace,
            subject=verified.subject,
            expires_at=self._clock.now() + WAITING_IDENTITY_LIFETIME,
            handle=verified.handle,
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
        name = self._round_trips.name_of(waiting.provider)
        return WaitingIdentityOffer(
            offer, waiting.provider, name, waiting.namespace, waiting.subject, waiting.handle
        )

    def _take_offered_waiting_identity(
        self, offer: str | None, token: str | None
    ) -> WaitingIdentity | None:
        return self._waiting.take(_waiting_offer_id(offer, token)) if offer and token else None

    def _discard(self, waiting: WaitingIdentity, reason: str) -> None:
        self._audit.record("identity.discarded", waiting.owner_id, waiting.provider, reason)


def _waiting_offer_id(offer: str, token: str) -> str:
    """The key a waiting identity is offered under after a sign-in: the offer's id, which that
    browser keeps, with the session token of that sign-in, so that no other session (even
    one that learnt the offer's id) finds it."""
    return hash_token(f"{offer}:{token}")
