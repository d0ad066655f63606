"""OpenID Connect logout, as a relying party: RP-Initiated Logout 1.0 (where to send the
browser to end its sign-in at the provider) and Back-Channel Logout 1.0 (the logout token a
provider posts when a person's sign-in there ends). Every check of section 2.6 is written
out below, as the ID token's are in relying_party.py; joserfc verifies the signature and
the registered claims it is told to."""

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from authlib.common.urls import add_params_to_uri
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from domain.errors import DomainError, LogoutNoticeRefused
from domain.model import LogoutNotice, VerifiedIdentity

log = logging.getLogger(__name__)

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# The media type of a logout token, with or without its "application/" (RFC 7515, 4.1.9).
LOGOUT_TOKEN_TYPES = frozenset({"logout+jwt", "application/logout+jwt"})
# A logout token older than this is refused, and its jti need not be remembered longer.
MAX_AGE_SECONDS = 600

KeyFor = Callable[[str | None, str], Any]


def with_provider_session(
    verified: VerifiedIdentity, claims: Mapping[str, Any], id_token: str
) -> VerifiedIdentity:
    """The identity with the provider's session id (the ID token's `sid`, when a string) and
    the ID token itself, the hint RP-initiated logout sends back."""
    sid = claims.get("sid")
    return replace(
        verified,
        provider_session_id=sid if isinstance(sid, str) and sid else None,
        logout_hint=id_token,
    )


def end_session_url(
    metadata: Mapping[str, Any],
    client_id: str,
    *,
    id_token_hint: str | None,
    return_to: str,
    state: str,
) -> str | None:
    """The provider's `end_session_endpoint` (from discovery) with the logout request's
    parameters; None when it advertises none."""
    endpoint = metadata.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    parameters = {"client_id": client_id, "post_logout_redirect_uri": return_to, "state": state}
    if id_token_hint:
        parameters["id_token_hint"] = id_token_hint
    return add_params_to_uri(endpoint, parameters)  # type: ignore[no-any-return]


def verified_logout_notice(
    form: Mapping[str, str],
    *,
    issuer: str,
    client_id: str,
    algorithms: tuple[str, ...],
    clock_skew_seconds: int,
    key_for: KeyFor,
    now: float,
) -> LogoutNotice:
    """The logout token posted in `form` (field `logout_token`), checked as Back-Channel
    Logout 1.0, section 2.6 says; LogoutNoticeRefused naming the first check it fails."""
    token = form.get("logout_token")
    if not isinstance(token, str) or not token:
        raise _refused("The request has no logout_token.")
    header = _header(token)
    algorithm = header.get("alg")
    if algorithm not in algorithms:  # never "none", never HS256 with the client secret
        raise _refused("The logout token is not signed with an algorithm this site accepts.")
    token_type = header.get("typ")
    if token_type is not None and str(token_type).lower() not in LOGOUT_TOKEN_TYPES:
        raise _refused("The logout token's typ is not logout+jwt.")
    claims = _verified_claims(token, _key(key_for, header.get("kid"), algorithm), algorithm)
    _check_registered_claims(claims, issuer, client_id, clock_skew_seconds, now)
    if claims["iat"] < now - MAX_AGE_SECONDS:
        raise _refused("The logout token was issued more than 10 minutes ago.")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise _refused("The logout token's events hold no back-channel logout event.")
    subject, session_id = claims.get("sub"), claims.get("sid")
    if subject is None and session_id is None:
        raise _refused("The logout token names neither a sub nor a sid.")
    if not isinstance(session_id, str | None) or session_id == "":
        raise _refused("The logout token's sid is not a string.")
    if "nonce" in claims:
        raise _refused("A logout token carries no nonce.")
    return LogoutNotice(
        provider_session_id=session_id,
        subject=subject,
        notice_id=claims["jti"],
        usable_until=_moment(claims["iat"] + MAX_AGE_SECONDS + clock_skew_seconds),
    )


def _refused(reason: str) -> LogoutNoticeRefused:
    return LogoutNoticeRefused(reason)


def _header(token: str) -> dict[str, Any]:
    try:
        return jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError) as error:
        raise _refused("The logout token is not a signed JWT.") from error


def _key(key_for: KeyFor, key_id: Any, algorithm: str) -> Any:
    """The provider's key for it; its keys are refetched once for an unknown kid (the
    key-rotation rule of relying_party.py)."""
    try:
        return key_for(key_id if isinstance(key_id, str) else None, algorithm)
    except DomainError as error:
        log.info("OIDC logout token without a usable key: %s", type(error).__name__)
        raise _refused("No key of the provider verifies the logout token.") from error


def _verified_claims(token: str, key: Any, algorithm: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[algorithm]).claims
    except (JoseError, ValueError) as error:
        raise _refused("The logout token's signature does not verify.") from error
    return claims


def _check_registered_claims(
    claims: dict[str, Any], issuer: str, client_id: str, skew: int, now: float
) -> None:
    """iss, aud holding the client id, iat (not in the future beyond the skew), exp when
    present, and a jti; `sub` is a string when present."""
    registry = JWTClaimsRegistry(
        now=lambda: int(now),
        leeway=skew,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": False},
        jti={"essential": True},
        sub={"essential": False},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        claim = getattr(error, "claim", "") or str(error)
        raise _refused(f"The logout token's {claim} claim is missing or wrong.") from error


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
