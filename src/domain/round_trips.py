"""A sign-in's round trip to a provider: begin it, keep an answer that came without the
browser's cookies, and take the answer back, checked against the sign-in it belongs to."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from domain.errors import SignInExpired, SignInMismatch, UnknownProvider
from domain.inputs import safe_next_path
from domain.model import ParkedAnswer, SignIn, VerifiedIdentity
from domain.ports import (
    Clock,
    IdentityProvider,
    ParkedAnswers,
    Sessions,
    SignIns,
    TokenSource,
)
from domain.sessions import require_recent_sign_in

SIGN_IN_LIFETIME = timedelta(minutes=10)
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
class Parked:
    """An answer parked earlier (`RoundTrips.park`), under its handle."""

    handle: str


@dataclass(frozen=True)
class Answer:
    """A provider's answer, taken with the sign-in it belongs to (used up by taking it)."""

    sign_in: SignIn
    params: Mapping[str, str]


def provider_choices(providers: Mapping[str, IdentityProvider]) -> list[ProviderChoice]:
    """The providers to offer, those that take a typed identifier first."""
    offered = [
        ProviderChoice(key, provider.name, provider.takes_identifier)
        for key, provider in providers.items()
    ]
    return sorted(offered, key=lambda choice: not choice.takes_identifier)


class RoundTrips:
    """Sign-ins in flight through the configured providers.

    A sign-in is kept server side between `begin` and its answer, bound to the browser that
    holds its id, used up by the first `take` whatever comes of it.
    """

    def __init__(
        self,
        *,
        providers: Mapping[str, IdentityProvider],
        return_url: Callable[[str], str],
        sign_ins: SignIns,
        parked: ParkedAnswers,
        sessions: Sessions,
        clock: Clock,
        tokens: TokenSource,
        housekeeping: Callable[[], int] = lambda: 0,
    ) -> None:
        self._providers = providers
        self._return_url = return_url
        self._sign_ins = sign_ins
        self._parked = parked
        self._sessions = sessions
        self._clock = clock
        self._tokens = tokens
        self._housekeeping = housekeeping

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
        """Ask the provider where to send the browser, and keep the sign-in's state.

        Only a same-site `next` path is kept; anything else is dropped here, once.
        """
        provider = self.provider(provider_key)
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

    def park(self, provider_key: str, callback: Mapping[str, str]) -> str:
        """Keep an answer that came without the browser's cookies; returns its handle."""
        self.provider(provider_key)
        handle = self._tokens.new_token()
        now = self._clock.now()
        expires_at = now + PARKED_LIFETIME
        self._parked.put(ParkedAnswer(handle, provider_key, dict(callback), expires_at))
        self._parked.remove_expired(now, PARKED_SWEEP)  # expired ones go as new ones come
        return handle

    def take(
        self, provider_key: str, sign_in_id: str | None, answer: Mapping[str, str] | Parked
    ) -> Answer:
        """The answer to `provider_key` for the sign-in `sign_in_id`, with that sign-in, both
        used up; SignInExpired or SignInMismatch when they are gone or do not belong together."""
        sign_in = self._take_sign_in(sign_in_id)
        if isinstance(answer, Parked):
            parked = self._take_parked(answer.handle)
            if parked.provider != provider_key:
                raise SignInMismatch()
            answer = parked.params
        if sign_in.provider != provider_key:
            raise SignInMismatch()
        return Answer(sign_in, answer)

    def verify(self, answer: Answer) -> VerifiedIdentity:
        """Who the provider says the answer is from, once it has checked the answer."""
        sign_in = answer.sign_in
        return self.provider(sign_in.provider).complete(answer.params, sign_in.provider_state)

    def provider(self, key: str) -> IdentityProvider:
        provider = self._providers.get(key)
        if provider is None:
            raise UnknownProvider()
        return provider

    def name_of(self, provider_key: str) -> str:
        provider = self._providers.get(provider_key)
        return provider.name if provider else provider_key

    def _take_sign_in(self, sign_in_id: str | None) -> SignIn:
        sign_in = self._sign_ins.take(sign_in_id) if sign_in_id else None
        if sign_in is None or sign_in.is_expired(self._clock.now()):
            raise SignInExpired()
        return sign_in

    def _take_parked(self, handle: str) -> ParkedAnswer:
        parked = self._parked.take(handle) if handle else None
        if parked is None or parked.is_expired(self._clock.now()):
            raise SignInExpired()
        return parked
