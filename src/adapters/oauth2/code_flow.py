"""The OAuth 2.0 authorization code flow with PKCE (RFC 6749, RFC 7636), as a client: the
authorization request with `state` and an S256 challenge, the answer's state, `iss` (RFC
9207) and errors, the code exchange with client authentication, the token answer in JSON
or form encoding, and the provider's JSON over the site's one HTTP client.
Protocols on OAuth 2.0 (OpenID Connect, GitHub, plain OAuth 2.0 providers) build on it; it
names none of them. Authlib builds the request, the challenge, the Basic client credentials
and reads form-encoded answers."""

import hmac
import json
import logging
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal
from urllib.parse import quote, urlencode

from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.oauth2.auth import encode_client_secret_basic
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from adapters.http.client import HttpError, HttpResponse, SafeHttpClient
from domain.errors import ProviderUnavailable, SignInCancelled, SignInFailed, SignInMismatch
from domain.model import ProviderRedirect

log = logging.getLogger(__name__)

# Errors a person can cause at the provider, by declining or by not being signed in there.
DECLINED = frozenset({"access_denied"})
NEEDS_INTERACTION = frozenset(
    {"login_required", "consent_required", "interaction_required", "account_selection_required"}
)
PROVIDER_TROUBLE = frozenset({"server_error", "temporarily_unavailable"})

# How the client proves itself at the token endpoint (RFC 6749 2.3.1).
ClientAuthentication = Literal["client_secret_basic", "client_secret_post"]
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class OAuth2Client:
    """A client registered at a provider, and the site's HTTP client to reach it with."""

    client_id: str
    client_secret: str = field(repr=False)
    http: SafeHttpClient = field(repr=False)
    # Names the protocol in logs ("OIDC provider refused a request: ...").
    label: str = "OAuth 2.0"

    def authorization_request(
        self,
        endpoint: str,
        *,
        state: str,
        return_to: str,
        scope: str,
        pkce: bool = True,
        parameters: Mapping[str, str] | None = None,
    ) -> ProviderRedirect:
        """Where to send the browser, with the protocol's own `parameters` too; what to keep
        until the answer: the state, the redirect URI and, with PKCE, the verifier."""
        extra = dict(parameters or {})
        kept = {"state": state, "redirect_uri": return_to}
        if pkce:
            kept["verifier"] = generate_token(64)
            extra |= {
                "code_challenge": create_s256_code_challenge(kept["verifier"]),
                "code_challenge_method": "S256",
            }
        url = prepare_grant_uri(
            endpoint,
            self.client_id,
            "code",
            redirect_uri=return_to,
            scope=scope or None,
            state=state,
            **extra,
        )
        return ProviderRedirect(url, kept)

    def exchange(
        self,
        token_endpoint: str,
        code: str,
        kept: Mapping[str, str],
        authentication: ClientAuthentication = "client_secret_basic",
    ) -> dict[str, Any]:
        """The token endpoint's answer to the code, asked for in JSON and read in JSON or
        form encoding; an `error` in it, whatever the status, is a refusal."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": kept["redirect_uri"],
        }
        if "verifier" in kept:
            form["code_verifier"] = kept["verifier"]
        headers = {
            "Content-Type": FORM_TYPE,
            "Accept": "application/json",
        }
        if authentication == "client_secret_basic":
            # RFC 6749 2.3.1: id and secret are form-encoded before Basic encoding.
            client = SimpleNamespace(
                client_id=quote(self.client_id, safe=""),
                client_secret=quote(self.client_secret, safe=""),
            )
            encode_client_secret_basic(client, "POST", "", headers, "")
        else:
            form |= {"client_id": self.client_id, "client_secret": self.client_secret}
        response = self._send("POST", token_endpoint, body=urlencode(form), headers=headers)
        tokens = token_answer(response)
        if response.status != 200 or "error" in tokens:
            self._refused(tokens.get("error", response.status))
        if not isinstance(tokens.get("access_token"), str) or not tokens["access_token"]:
            self._refused("no access_token")
        return tokens

    def json(self, method: str, url: str, **options: Any) -> dict[str, Any]:
        """A JSON object from the provider; its trouble as the domain's errors."""
        document = self.resource(method, url, **options)
        if not isinstance(document, dict):
            raise SignInFailed()
        return document

    def resource(
        self, method: str, url: str, *, absent_when: Collection[int] = (), **options: Any
    ) -> Any:
        """The JSON the provider answers with (None when its status is in `absent_when`);
        a provider that cannot be reached or answers 5xx is unavailable, one that answers
        another error status or no JSON refuses."""
        response = self._send(method, url, **options)
        if response.status in absent_when:
            return None
        try:
            document = json.loads(response.body)
        except ValueError as error:
            raise SignInFailed() from error
        if response.status != 200:
            error_code = document.get("error") if isinstance(document, dict) else None
            self._refused(error_code or response.status)
        return document

    def bearer(self, access_token: str, **headers: str) -> dict[str, str]:
        """Headers that present the access token (RFC 6750)."""
        return {"Authorization": f"Bearer {access_token}", **headers}

    def _send(self, method: str, url: str, **options: Any) -> HttpResponse:
        with self._unreachable_as_domain_error():
            response = self.http.request(method, url, **options)
        if response.status >= 500:
            log.info("%s provider answered %s", self.label, response.status)
            raise ProviderUnavailable()
        return response

    def _refused(self, why: object) -> None:
        log.info("%s provider refused a request: %r", self.label, why)
        raise SignInFailed()

    @contextmanager
    def _unreachable_as_domain_error(self) -> Iterator[None]:
        try:
            yield
        except HttpError as error:
            log.info("%s provider unreachable: %s", self.label, type(error).__name__)
            raise ProviderUnavailable() from error


def code_of(
    callback: Mapping[str, str],
    kept: Mapping[str, str],
    *,
    issuer: str | None = None,
    issuer_advertised: bool = False,
    label: str = "OAuth 2.0",
) -> str:
    """The authorization code of an answer to the sign-in this browser began: its state
    checked first, then its `iss` (against `issuer`, when the provider has one), then its
    `error`."""
    check_state(callback.get("state"), kept.get("state"))
    if issuer is not None:
        check_issuer(callback, issuer, advertised=issuer_advertised, label=label)
    check_error(callback, label)
    code = callback.get("code")
    if not code:
        raise SignInFailed()
    return code


def check_state(answered: str | None, kept: str | None) -> None:
    """The answer belongs to the sign-in this browser began."""
    if not answered or not kept or not hmac.compare_digest(answered, kept):
        raise SignInMismatch()


def check_issuer(
    callback: Mapping[str, str], issuer: str, *, advertised: bool, label: str = "OAuth 2.0"
) -> None:
    """RFC 9207: an `iss` in the answer names who answered, and must be there when the
    provider advertises it; another one is a mix-up attack."""
    if (advertised or "iss" in callback) and callback.get("iss") != issuer:
        log.warning("%s answer for %s carries another iss", label, issuer)
        raise SignInFailed()


def check_error(callback: Mapping[str, str], label: str = "OAuth 2.0") -> None:
    """An `error` in the answer as the domain's error: declined, needs a sign-in there, the
    provider in trouble, or anything else."""
    error = callback.get("error")
    if error is None:
        return
    log.info("%s provider answered with error %r", label, error)
    if error in DECLINED:
        raise SignInCancelled()
    if error in NEEDS_INTERACTION:
        raise SignInCancelled("Your provider needs you to sign in there first.")
    if error in PROVIDER_TROUBLE:
        raise ProviderUnavailable()
    raise SignInFailed()


def client_authentication(supported: Collection[str]) -> ClientAuthentication:
    """Basic, unless the provider supports only client_secret_post (RFC 8414's
    `token_endpoint_auth_methods_supported`)."""
    if "client_secret_post" in supported and "client_secret_basic" not in supported:
        return "client_secret_post"
    return "client_secret_basic"


def token_answer(response: HttpResponse) -> dict[str, Any]:
    """A token endpoint's answer as a dictionary: JSON (RFC 6749 5.1), or the form encoding
    some providers answer with (GitHub unless asked for JSON; older ones as text/plain);
    SignInFailed if neither."""
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == FORM_TYPE:
        return form_document(response.body)
    try:
        return json_document(response)
    except SignInFailed:
        if media_type != "text/plain":
            raise
    return form_document(response.body)


def form_document(body: bytes) -> dict[str, Any]:
    try:
        pairs = url_decode(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise SignInFailed() from error
    return dict(pairs)


def json_document(response: HttpResponse) -> dict[str, Any]:
    try:
        document = json.loads(response.body)
    except ValueError as error:
        raise SignInFailed() from error
    if not isinstance(document, dict):
        raise SignInFailed()
    return document


def is_true(value: Any) -> bool:
    """A provider's flag (`email_verified`, `verified`): JSON `true`, or the string "true"
    some providers send; never 1 or 1.0 (1 == True)."""
    return value is True or value == "true"
