import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from openid import fetchers
from openid.association import SessionNegotiator
from openid.consumer.consumer import CANCEL, SETUP_NEEDED, SUCCESS, GenericConsumer
from openid.consumer.discover import DiscoveryFailure, OpenIDServiceEndpoint, discover
from openid.extensions import ax, sreg
from openid.message import Message
from openid.store.interface import OpenIDStore

from adapters.http.client import ForbiddenAddress
from adapters.openid.fetcher import SafeFetcher, fetching_with
from adapters.openid.identifiers import identifier_key, is_under_prefix, parse_identifier
from domain.errors import (
    DomainError,
    InvalidIdentifier,
    ProviderUnavailable,
    SignInCancelled,
    SignInFailed,
    SignInMismatch,
)
from domain.model import ProviderPolicy, ProviderRedirect, VerifiedIdentity

log = logging.getLogger(__name__)

AX_EMAIL = "http://axschema.org/contact/email"
AX_NICKNAME = "http://axschema.org/namePerson/friendly"
# Every OpenID 2.0 identity lives in one namespace: the claimed identifier names it.
NAMESPACE = "openid"
# The return URL's own parameter that ties an answer to the login that asked for it.
STATE_PARAMETER = "state"
# Only Diffie-Hellman sessions: python3-openid would accept an unencrypted secret over http.
DH_ONLY = SessionNegotiator([("HMAC-SHA256", "DH-SHA256"), ("HMAC-SHA1", "DH-SHA1")])


@dataclass(frozen=True)
class OpenIdProfile:
    """One OpenID 2.0 provider as configured.

    `op_identifier`: a fixed provider (Steam, Launchpad style): the person types nothing.
    `op_endpoint`: only answers signed by this provider endpoint are accepted.
    `claimed_id_prefix`: only claimed identifiers under it are accepted from this provider.
    `stateless`: never associate; every response is checked with the provider directly.
    """

    policy: ProviderPolicy
    display_name: str
    op_identifier: str | None = None
    op_endpoint: str | None = None
    claimed_id_prefix: str | None = None
    stateless: bool = False

    @property
    def pinned(self) -> bool:
        """Whether only a known provider can vouch for this profile's identities. Without a
        pin, whatever provider a typed identifier points at does, its owner included."""
        return bool(self.op_endpoint or self.claimed_id_prefix)


class AssociationRefusals:
    """Providers that refused to associate lately, so no Diffie-Hellman runs for each login.

    Anyone can type an identifier that leads to a provider of theirs: at most `capacity`
    providers are remembered, the oldest forgotten first.
    """

    def __init__(
        self,
        memory_seconds: float = 3600,
        now: Callable[[], float] = time.monotonic,
        capacity: int = 1000,
    ):
        self._memory = memory_seconds
        self._now = now
        self._capacity = capacity
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def remember(self, server_url: str) -> None:
        with self._lock:
            self._until.pop(server_url, None)
            while len(self._until) >= self._capacity:
                del self._until[next(iter(self._until))]
            self._until[server_url] = self._now() + self._memory

    def recently_refused(self, server_url: str) -> bool:
        with self._lock:
            return self._until.get(server_url, 0.0) > self._now()


class _Consumer(GenericConsumer):  # type: ignore[misc]
    def __init__(self, store: OpenIDStore, refusals: AssociationRefusals, stateless: bool):
        super().__init__(store)
        self.negotiator = DH_ONLY.copy()
        self._refusals = refusals
        self._stateless = stateless

    def _getAssociation(self, endpoint: OpenIDServiceEndpoint):  # type: ignore[no-untyped-def]
        if self._stateless or self._refusals.recently_refused(endpoint.server_url):
            return None
        association = super()._getAssociation(endpoint)
        if association is None:
            self._refusals.remember(endpoint.server_url)
        return association


class OpenIdIdentityProvider:
    """The identity-provider port over OpenID 2.0, with python3-openid doing the protocol.

    Between begin and complete, only the discovered endpoint's fields and the return URL
    are kept, in the login transaction: nothing is pickled, nothing goes into a cookie.
    The return URL carries the login's transaction id as `state`; OpenID 2.0 signs the
    return URL, so an answer given for one browser's login cannot finish another's.
    """

    def __init__(
        self,
        profile: OpenIdProfile,
        store: OpenIDStore,
        realm: str,
        fetcher: SafeFetcher | None = None,
        refusals: AssociationRefusals | None = None,
    ) -> None:
        self.profile = profile
        self.policy = profile.policy
        self.name = profile.display_name
        self.takes_identifier = not profile.op_identifier
        self._store = store
        self._realm = realm
        self._fetcher = fetcher or SafeFetcher()
        self._refusals = refusals or AssociationRefusals()

    def _consumer(self) -> _Consumer:
        return _Consumer(self._store, self._refusals, self.profile.stateless)

    def begin(self, *, sign_in_id: str, return_to: str, identifier: str | None) -> ProviderRedirect:
        user_url = self.profile.op_identifier or parse_identifier(identifier)
        return_url = f"{return_to}?{urlencode({STATE_PARAMETER: sign_in_id})}"
        with fetching_with(self._fetcher), _provider_errors():
            endpoint = self._discover(user_url)
            request = self._consumer().begin(endpoint)
            request.addExtension(sreg.SRegRequest(optional=["nickname", "email"]))
            request.addExtension(_ax_request(self.policy.email_required))
            url = request.redirectURL(self._realm, return_url)
        state = _endpoint_state(request.endpoint)
        return ProviderRedirect(url, state | {"return_to": return_url, "state": sign_in_id})

    def identifier_key(self, identifier: str) -> str | None:
        return None if self.profile.op_identifier else identifier_key(identifier)

    def _discover(self, user_url: str) -> OpenIDServiceEndpoint:
        _, services = discover(user_url)
        if not services:
            raise SignInFailed("No OpenID provider was found for that identifier.")
        return services[0]

    def complete(self, callback: Mapping[str, str], state: Mapping[str, str]) -> VerifiedIdentity:
        # Checked before anything else: an answer to another login costs no provider call.
        _check_state(callback.get(STATE_PARAMETER), state)
        with fetching_with(self._fetcher), _provider_errors():
            message = Message.fromPostArgs(dict(callback))
            result = self._consumer().complete(message, _endpoint(state), state["return_to"])
        if result.status == CANCEL:
            raise SignInCancelled()
        if result.status == SETUP_NEEDED:
            raise SignInCancelled("Your provider needs you to sign in there first.")
        if result.status != SUCCESS:
            log.info("OpenID response refused: %s", getattr(result, "message", result.status))
            raise SignInFailed()
        _check_state(_state_of(result.getReturnTo()), state)
        return self._verified(result, state)

    def _verified(self, result, state: Mapping[str, str]) -> VerifiedIdentity:  # type: ignore[no-untyped-def]
        claimed_id = result.endpoint.claimed_id
        answered_by = result.endpoint.server_url
        prefix, op_endpoint = self.profile.claimed_id_prefix, self.profile.op_endpoint
        if (
            not claimed_id
            or (prefix and not is_under_prefix(claimed_id, prefix))
            or (op_endpoint and answered_by != op_endpoint)
            # A fixed provider: only the endpoint the login was sent to may answer it, not one
            # that an identifier under the prefix delegates to.
            or (self.profile.op_identifier and answered_by != state.get("server_url"))
        ):
            raise SignInFailed("That provider may not vouch for this identifier.")
        registration = sreg.SRegResponse.fromSuccessResponse(result, signed_only=True) or {}
        exchange = _signed_attribute_exchange(result)
        return VerifiedIdentity(
            self.policy,
            NAMESPACE,
            claimed_id,
            nickname=registration.get("nickname") or _ax_value(exchange, AX_NICKNAME),
            email=registration.get("email") or _ax_value(exchange, AX_EMAIL),
            # OpenID 2.0 has no word for "verified": the site's trust in a pinned provider
            # is all there is (settings refuse trust in an unpinned one).
            email_verified=self.policy.trusted_for_email,
        )


def _check_state(answered: str | None, kept: Mapping[str, str]) -> None:
    expected = kept.get("state", "")
    if not answered or not expected or not hmac.compare_digest(answered, expected):
        raise SignInMismatch()


def _state_of(return_to: str | None) -> str | None:
    values = parse_qs(urlsplit(return_to or "").query).get(STATE_PARAMETER, [])
    return values[0] if len(values) == 1 else None


def _ax_request(email_required: bool) -> ax.FetchRequest:
    request = ax.FetchRequest()
    request.add(ax.AttrInfo(AX_EMAIL, alias="email", required=email_required))
    request.add(ax.AttrInfo(AX_NICKNAME, alias="nickname"))
    return request


def _signed_attribute_exchange(result) -> ax.FetchResponse | None:  # type: ignore[no-untyped-def]
    try:
        return ax.FetchResponse.fromSuccessResponse(result, signed=True)
    except (AttributeError, KeyError, ax.AXError):
        # python3-openid trips over an AX namespace with unsigned values in it: ignore them all.
        return None


def _ax_value(exchange: ax.FetchResponse | None, type_uri: str) -> str | None:
    if exchange is None:
        return None
    try:
        return exchange.getSingle(type_uri)  # type: ignore[no-any-return]
    except (KeyError, ax.AXError):
        return None


def _endpoint_state(endpoint: OpenIDServiceEndpoint) -> dict[str, str]:
    return {
        "claimed_id": endpoint.claimed_id or "",
        "server_url": endpoint.server_url,
        "local_id": endpoint.local_id or "",
        "type_uris": " ".join(endpoint.type_uris),
        "display_identifier": endpoint.display_identifier or "",
        "used_yadis": "1" if endpoint.used_yadis else "",
    }


def _endpoint(state: Mapping[str, str]) -> OpenIDServiceEndpoint:
    endpoint = OpenIDServiceEndpoint()
    endpoint.claimed_id = state.get("claimed_id") or None
    endpoint.server_url = state["server_url"]
    endpoint.local_id = state.get("local_id") or None
    endpoint.type_uris = state.get("type_uris", "").split()
    endpoint.display_identifier = state.get("display_identifier") or None
    endpoint.used_yadis = bool(state.get("used_yadis"))
    return endpoint


def _as_domain_error(error: BaseException) -> DomainError:
    cause = _fetch_cause(error)
    if isinstance(cause, ForbiddenAddress):
        return InvalidIdentifier("That identifier points to an address this site may not reach.")
    if cause is not None:
        return ProviderUnavailable()
    if isinstance(error, DiscoveryFailure):
        return SignInFailed("No OpenID provider was found for that identifier.")
    return SignInFailed()


def _fetch_cause(error: BaseException) -> BaseException | None:
    """The network error behind `error`, if any (python3-openid wraps it, maybe twice)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, fetchers.HTTPFetchingError):
            inner = getattr(seen, "why", None)
            if isinstance(inner, BaseException):
                return _fetch_cause(inner) or inner
            fetch_error: BaseException = seen
            return fetch_error
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def _provider_errors() -> Iterator[None]:
    """Everything python3-openid or the network throws becomes a domain error."""
    try:
        yield
    except DomainError:
        raise
    except Exception as error:
        log.info("OpenID exchange failed: %r", error)
        raise _as_domain_error(error) from error
