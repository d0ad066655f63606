"""Application services: what the entrypoints call, each built by the container with its ports."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.errors import (
    DomainError,
    IdentityBelongsToAnotherAccount,
    LoginExpired,
    LoginMismatch,
    NothingToConnect,
    NotYours,
    UnknownProvider,
)
from domain.inputs import safe_next_path
from domain.model import (
    AuditEvent,
    Device,
    ParkedAnswer,
    Post,
    ProviderPolicy,
    Session,
    SessionPolicy,
    SignIn,
    User,
    VerifiedIdentity,
    WaitingIdentity,
    hash_token,
)
from domain.ports import (
    AuditTrail,
    Clock,
    IdentityProvider,
    ParkedAnswers,
    Sessions,
    SignIns,
    Timelines,
    TokenSource,
    UnitOfWork,
    WaitingIdentities,
)
from domain.use_cases import (
    IdentityMustWait,
    SignedIn,
    WaitingIdentityOffer,
    clean_up_expired,
    complete_login,
    connect_identity,
    current_user,
    disable_user,
    disconnect_identity,
    enable_user,
    find_user,
    list_users,
    log_out,
    log_out_everywhere,
    recent_posts,
    rename_user,
    require_recent_sign_in,
)

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


@dataclass(frozen=True)
class IdentityWaits:
    """No sign-in: the identity waits under `waiting_identity_id` (kept by this browser) for
    a sign-in to the account that owns its email. Nothing about that account is told."""

    waiting_identity_id: str


@dataclass(frozen=True)
class Connected:
    provider_name: str
    added: bool  # False: it was connected already


class Logins:
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
        audit: AuditTrail,
        origin: Callable[[], Device],
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
        self._audit = Recorder(audit, origin, clock)
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
        self,
        provider_key: str,
        sign_in_id: str | None,
        callback: Mapping[str, str] | None = None,
        *,
        parked_handle: str | None = None,
        device: Device | None = None,
        waiting_identity_id: str | None = None,
        signed_in_user_id: int | None = None,
    ) -> "SignedIn | IdentityWaits | Connected":
        """Complete the login this browser started, with the provider's answer given here or
        parked earlier under `parked_handle`. A login opens a session; the identity waiting
        in `waiting_identity_id` is offered for confirmation (`SignedIn.waiting`) if this is its
        account, and discarded otherwise. A connecting round trip attaches the identity to
        `signed_in_user_id`, who must have begun it."""
        sign_in = self._take_sign_in(sign_in_id)
        if parked_handle is not None:
            parked = self._take_parked(parked_handle)
            if parked.provider != provider_key:
                raise LoginMismatch()
            callback = parked.params
        if sign_in.provider != provider_key:
            raise LoginMismatch()
        try:
            provider = self._provider(provider_key)
            verified = provider.complete(callback or {}, sign_in.provider_state)
            if sign_in.connect_user_id is not None:
                return self._connect(sign_in.connect_user_id, signed_in_user_id, verified)
            result = complete_login(
                verified,
                remember=sign_in.remember,
                uow=self._unit_of_work(),
                sessions=self._sessions,
                clock=self._clock,
                tokens=self._tokens,
                policy=self.policy,
                device=device,
            )
        except DomainError as refused:
            self._audit.record("sign_in.refused", None, provider_key, type(refused).__name__)
            raise
        if isinstance(result, IdentityMustWait):
            return self._keep_waiting_identity(result.owner_id, verified)
        self._audit.record("sign_in.succeeded", result.user.id, provider_key)
        waiting = self._offer_waiting_identity(waiting_identity_id, result.user.id, result.token)
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

    def current_user(self, token: str | None) -> User | None:
        return current_user(token, sessions=self._sessions, clock=self._clock, policy=self.policy)

    def log_out(self, token: str | None) -> None:
        user_id = log_out(token, sessions=self._sessions)
        if user_id is not None:
            self._audit.record("sign_out", user_id)

    def log_out_everywhere(self, user_id: int) -> int:
        ended = log_out_everywhere(user_id, sessions=self._sessions)
        self._audit.record("sign_out.everywhere", user_id, detail=f"{ended} sessions")
        return ended

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
    ) -> "Connected":
        if signed_in_user_id != user_id:
            raise LoginMismatch()  # signed out, or someone else, since the round trip began
        added = connect_identity(self._unit_of_work(), user_id, verified, self._clock)
        if added:
            self._audit.record("identity.connected", user_id, verified.provider)
        return Connected(self._providers[verified.provider].name, added)

    def _keep_waiting_identity(self, owner_id: int, verified: VerifiedIdentity) -> "IdentityWaits":
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
        origin: Callable[[], Device],
        clock: Clock,
    ) -> None:
        self._audit_trail = audit
        self._audit = Recorder(audit, origin, clock)
        self._unit_of_work = unit_of_work
        self._writing_unit_of_work = writing_unit_of_work
        self._sessions = sessions
        self._sign_ins = sign_ins
        self._parked = parked
        self._waiting = waiting
        self._clock = clock

    def users(self) -> Sequence[User]:
        return list_users(uow=self._unit_of_work())

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
            "sign_out.everywhere", user.id, detail=f"{ended} sessions, by an operator"
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
            *clean_up_expired(sessions=self._sessions, sign_ins=self._sign_ins, clock=self._clock),
            parked_answers=self._parked.remove_expired(now),
            waiting_identities=self._waiting.remove_expired(now),
        )

    def _find(self, nickname: str) -> User:
        return find_user(nickname, uow=self._unit_of_work())


class Timeline:
    """The posts a signed-in person sees."""

    def __init__(self, *, timelines: Timelines) -> None:
        self._timelines = timelines

    def recent_posts(self, user_id: int) -> Sequence[Post]:
        return recent_posts(user_id, timelines=self._timelines)


@dataclass(frozen=True)
class LinkedIdentity:
    provider_name: str
    namespace: str
    subject: str
    created_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class AccountOverview:
    user: User
    logins: list[LinkedIdentity]
    devices: list[Session]  # newest first
    current_device: str  # the token hash of this browser's session


class Accounts:
    """What a signed-in person does on their account page."""

    def __init__(
        self,
        *,
        providers: Mapping[str, IdentityProvider],
        unit_of_work: Callable[[], UnitOfWork],
        writing_unit_of_work: Callable[[], UnitOfWork],
        sessions: Sessions,
        audit: AuditTrail,
        origin: Callable[[], Device],
        clock: Clock,
        unrecorded_provider: str,
    ) -> None:
        self._providers = providers
        # The name shown for an identity linked before the provider that added it was recorded.
        self._unrecorded_provider = unrecorded_provider
        self._unit_of_work = unit_of_work
        self._writing_unit_of_work = writing_unit_of_work
        self._sessions = sessions
        self._audit = Recorder(audit, origin, clock)
        self._clock = clock

    def overview(self, user_id: int, token: str) -> AccountOverview:
        uow = self._unit_of_work()
        with uow:
            user = uow.users.get(user_id)
            identities = uow.identities.of_user(user_id)
        if user is None:
            raise NotYours()
        now = self._clock.now()
        devices = [s for s in self._sessions.of_user(user_id) if not s.is_expired(now)]
        logins = [
            LinkedIdentity(
                self._name_of(i.provider), i.namespace, i.subject, i.created_at, i.last_used_at
            )
            for i in identities
        ]
        return AccountOverview(user, logins, devices, hash_token(token))

    def rename(self, user_id: int, nickname: str) -> str:
        renamed = rename_user(self._writing_unit_of_work(), user_id, nickname)
        self._audit.record("nickname.changed", user_id)
        return renamed

    def disconnect(self, token: str, namespace: str, subject: str) -> str:
        """The provider name of the login removed; needs a recent sign-in."""
        session = require_recent_sign_in(token, sessions=self._sessions, clock=self._clock)
        uow = self._writing_unit_of_work()
        removed = disconnect_identity(uow, session.user_id, namespace, subject)
        self._audit.record("identity.disconnected", session.user_id, removed.provider)
        return self._name_of(removed.provider)

    def end_device(self, user_id: int, token_hash: str) -> None:
        session = self._sessions.get(token_hash)
        if session is None or session.user_id != user_id:
            raise NotYours()
        self._sessions.remove(token_hash)
        self._audit.record("device.ended", user_id)

    def end_other_devices(self, user_id: int, token: str) -> int:
        ended = self._sessions.remove_all_of_except(user_id, hash_token(token))
        self._audit.record("device.ended_others", user_id, detail=f"{ended} sessions")
        return ended

    def _name_of(self, provider_key: str) -> str:
        provider = self._providers.get(provider_key)
        return provider.name if provider else provider_key or self._unrecorded_provider


class Recorder:
    """Writes audit events stamped with the time and with where the action came from."""

    def __init__(self, trail: AuditTrail, origin: Callable[[], Device], clock: Clock) -> None:
        self._trail = trail
        self._origin = origin
        self._clock = clock

    def record(
        self,
        kind: str,
        user_id: int | None,
        provider: str | None = None,
        detail: str | None = None,
    ) -> None:
        device = self._origin()
        event = AuditEvent(
            kind,
            self._clock.now(),
            user_id,
            provider,
            detail,
            device.client_address,
            device.user_agent,
        )
        self._trail.record(event)


Chore = Callable[[datetime, int], int]


class Housekeeping:
    """Expired rows go without cron: a sweep removes the rows expired by the clock's now from
    each store, at most `batch` apiece, so that no sweep takes long. When to sweep is decided
    outside the domain (the container: every n-th login start)."""

    def __init__(self, chores: Sequence[Chore], clock: Clock, batch: int) -> None:
        self._chores = chores
        self._clock = clock
        self._batch = batch

    def sweep(self) -> int:
        """How many rows this sweep removed."""
        now = self._clock.now()
        return sum(chore(now, self._batch) for chore in self._chores)
