"""The identity-provider port over OpenID Connect: authorization code flow with PKCE.

The OAuth 2.0 steps (the authorization request with state and PKCE, the answer's state,
`iss` and errors, the code exchange and client authentication) are adapters.oauth2's;
OpenID Connect adds discovery, the nonce, the ID token and userinfo. Authlib builds the
at_hash; joserfc verifies signatures and registered claims. Every check of the ID token
is written out below, none is left to a library's defaults.
"""

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.oidc.core.util import create_half_hash
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from adapters.http.client import SafeHttpClient
from adapters.oauth2.code_flow import (
    OAuth2Client,
    check_state,
    client_authentication,
    code_of,
    is_true,
)
from adapters.oidc import logout
from domain.errors import SignInFailed
from domain.model import LogoutNotice, ProviderPolicy, ProviderRedirect, VerifiedIdentity

log = logging.getLogger(__name__)

DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
KEY_TYPE_OF_ALGORITHM = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
NICKNAME_CLAIMS = ("preferred_username", "nickname", "name")


@dataclass(frozen=True)
class OidcProfile:
    policy: ProviderPolicy
    display_name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid email profile"
    response_mode: str | None = None  # "form_post" to have the answer posted back
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    clock_skew_seconds: int = 60
    discovery_lifetime_seconds: float = 3600
    # After a refetch for an unknown kid, how long before another: a stream of tokens naming
    # unknown keys cannot make the site hammer the provider, and a rotation is seen at once.
    jwks_refetch_cooldown_seconds: float = 5
    # Logout sends the browser on to the provider's end_session_endpoint too.
    sign_out_at_provider: bool = False


@dataclass
class _Cached:
    value: Any = None
    fetched_at: float = float("-inf")


class OidcIdentityProvider:
    """Between begin and complete the login keeps `state` (the transaction id), the `nonce`,
    the PKCE verifier and the redirect URI, server side in the login transaction."""

    takes_identifier = False

    def __init__(
        self,
        profile: OidcProfile,
        http: SafeHttpClient,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.policy = profile.policy
        self.name = profile.display_name
        self._client = OAuth2Client(profile.client_id, profile.client_secret, http, label="OIDC")
        self._now = now
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._metadata = _Cached()
        self._keys = _Cached()
        self._unknown_kid_refetched_at = float("-inf")

    def begin(self, *, sign_in_id: str, return_to: str, identifier: str | None) -> ProviderRedirect:
        metadata = self._discovered()
        nonce = generate_token(32)
        mode = {"response_mode": self.profile.response_mode} if self.profile.response_mode else {}
        request = self._client.authorization_request(
            metadata["authorization_endpoint"],
            state=sign_in_id,
            return_to=return_to,
            scope=self.profile.scopes,
            parameters={"nonce": nonce} | mode,
        )
        return ProviderRedirect(request.url, request.state | {"nonce": nonce})

    def identifier_key(self, identifier: str) -> str | None:
        return None  # nobody types an identifier for an OpenID Connect provider

    def complete(self, callback: Mapping[str, str], state: Mapping[str, str]) -> VerifiedIdentity:
        check_state(callback.get("state"), state.get("state"))  # before anything is fetched
        metadata = self._discovered()
        code = code_of(
            callback,
            state,
            issuer=self.profile.issuer,
            issuer_advertised=metadata.get("authorization_response_iss_parameter_supported")
            is True,
            label="OIDC",
        )
        tokens = self._exchange(code, state, metadata)
        claims = self._id_token_claims(tokens, state["nonce"])
        userinfo = self._userinfo_if_needed(claims, tokens.get("access_token"), metadata)
        return logout.with_provider_session(
            self._verified(claims, userinfo), claims, tokens["id_token"]
        )

    # Logout (adapters/oidc/logout.py)

    def end_session_redirect(
        self, *, logout_hint: str | None, return_to: str, state: str
    ) -> str | None:
        if not self.profile.sign_out_at_provider:
            return None
        return logout.end_session_url(
            self._discovered(),
            self.profile.client_id,
            id_token_hint=logout_hint,
            return_to=return_to,
            state=state,
        )

    def verified_logout_notice(self, notice: Mapping[str, str]) -> LogoutNotice:
        return logout.verified_logout_notice(
            notice,
            issuer=self.profile.issuer,
            client_id=self.profile.client_id,
            algorithms=self.profile.algorithms,
            clock_skew_seconds=self.profile.clock_skew_seconds,
            key_for=self._key_for,
            now=self._now(),
        )

    # Discovery and keys

    def _discovered(self) -> dict[str, Any]:
        with self._lock:
            age = self._monotonic() - self._metadata.fetched_at
            if age < self.profile.discovery_lifetime_seconds:
                return dict(self._metadata.value)
        issuer = self.profile.issuer
        document = self._client.json(
            "GET", f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        )
        if document.get("issuer") != issuer:
            log.warning("OIDC discovery of %s names another issuer", issuer)
            raise SignInFailed("The sign-in provider's configuration does not match this site's.")
        for required in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(required), str):
                raise SignInFailed("The sign-in provider's configuration is incomplete.")
        with self._lock:
            self._metadata = _Cached(document, self._monotonic())
        return document

    def _key_for(self, key_id: str | None, algorithm: str) -> Any:
        key = _pick_key(self._key_set(refresh=False), key_id, algorithm)
        if key is None and key_id is not None and self._may_refetch_keys():
            # An unknown kid: the provider may have rotated its keys. Refetched unless another
            # unknown kid caused a refetch within the cooldown (the first fetch does not count).
            key = _pick_key(self._key_set(refresh=True), key_id, algorithm)
        if key is None:
            raise SignInFailed()
        return key

    def _key_set(self, refresh: bool) -> KeySet:
        with self._lock:
            if self._keys.value is not None and not refresh:
                return self._keys.value  # type: ignore[no-any-return]
            self._keys.fetched_at = self._monotonic()
        document = self._client.json("GET", self._discovered()["jwks_uri"])
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as error:
            log.info("OIDC keys of %s unreadable: %r", self.profile.issuer, error)
            raise SignInFailed() from error
        with self._lock:
            self._keys.value = keys
        return keys

    def _may_refetch_keys(self) -> bool:
        with self._lock:
            now = self._monotonic()
            if now - self._unknown_kid_refetched_at < self.profile.jwks_refetch_cooldown_seconds:
                return False
            self._unknown_kid_refetched_at = now
            return True

    # The answer

    def _exchange(
        self, code: str, state: Mapping[str, str], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        methods = metadata.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        tokens = self._client.exchange(
            metadata["token_endpoint"], code, state, client_authentication(methods)
        )
        if not isinstance(tokens.get("id_token"), str):
            raise SignInFailed()
        return tokens

    def _id_token_claims(self, tokens: dict[str, Any], nonce: str) -> dict[str, Any]:
        id_token = tokens["id_token"]
        try:
            header = jws.extract_compact(id_token.encode()).headers()
        except (JoseError, ValueError) as error:
            raise SignInFailed() from error
        algorithm = header.get("alg")
        if algorithm not in self.profile.algorithms:  # never "none", never HS256
            log.info("OIDC ID token signed with %r refused", algorithm)
            raise SignInFailed()
        key = self._key_for(header.get("kid"), algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(id_token, key, algorithms=[algorithm]).claims
            self._claims_registry(nonce).validate(claims)
        except (JoseError, ValueError) as error:
            log.info("OIDC ID token refused: %s", type(error).__name__)
            raise SignInFailed() from error
        self._check_authorized_party(claims)
        _check_access_token_hash(claims, tokens.get("access_token"), algorithm)
        return claims

    def _claims_registry(self, nonce: str) -> JWTClaimsRegistry:
        return JWTClaimsRegistry(
            now=lambda: int(self._now()),
            leeway=self.profile.clock_skew_seconds,
            iss={"essential": True, "value": self.profile.issuer},
            sub={"essential": True},
            aud={"essential": True, "value": self.profile.client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )

    def _check_authorized_party(self, claims: dict[str, Any]) -> None:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.profile.client_id:
            log.info("OIDC ID token for another party (azp) refused")
            raise SignInFailed()

    def _userinfo_if_needed(
        self, claims: dict[str, Any], access_token: str | None, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not self._lacks_what_was_asked_for(claims) or not endpoint or not access_token:
            return {}
        userinfo = self._client.json("GET", endpoint, headers=self._client.bearer(access_token))
        if userinfo.get("sub") != claims["sub"]:
            log.warning("OIDC userinfo of %s names another subject", self.profile.issuer)
            raise SignInFailed()
        return userinfo

    def _lacks_what_was_asked_for(self, claims: dict[str, Any]) -> bool:
        """Whether the ID token lacks the email or the nickname its scopes asked for: a
        request to userinfo costs the sign-in a round trip."""
        scopes = self.profile.scopes.split()
        lacks_email = "email" in scopes and not claims.get("email")
        lacks_nickname = "profile" in scopes and not any(claims.get(c) for c in NICKNAME_CLAIMS)
        return lacks_email or lacks_nickname

    def _verified(self, claims: dict[str, Any], userinfo: dict[str, Any]) -> VerifiedIdentity:
        nickname = next(
            (str(s[c]) for c in NICKNAME_CLAIMS for s in (claims, userinfo) if s.get(c)), None
        )
        # An email and its verification come from the same document.
        source = claims if claims.get("email") else userinfo
        email = source.get("email")
        return VerifiedIdentity(
            self.policy,
            self.profile.issuer,
            str(claims["sub"]),
            nickname=nickname,
            email=email if isinstance(email, str) else None,
            email_verified=is_true(source.get("email_verified")),
        )


def _pick_key(keys: KeySet, key_id: str | None, algorithm: str) -> Any:
    """The key named by `key_id`; without one, the only key that fits, or None."""
    key_type = KEY_TYPE_OF_ALGORITHM.get(algorithm[:2])
    fitting = [
        key
        for key in keys.keys
        if key.key_type == key_type
        and key.get("use") in (None, "sig")
        and (key_id is None or key.kid == key_id)
    ]
    return fitting[0] if len(fitting) == 1 else None


def _check_access_token_hash(claims: dict[str, Any], access_token: Any, algorithm: str) -> None:
    at_hash = claims.get("at_hash")
    if at_hash is None:
        return
    expected = create_half_hash(access_token, algorithm) if isinstance(access_token, str) else None
    if expected is None or not hmac.compare_digest(str(at_hash).encode(), expected):
        log.info("OIDC ID token with a wrong at_hash refused")
        raise SignInFailed()
