"""The OAuth 2.0 authorization code flow with PKCE (RFC 6749, RFC 7636), as a client: the
authorization request with `state` and an S256 challenge, the answer's state and errors,
the code exchange with client authentication, JSON over the site's one HTTP client.
Protocols on OAuth 2.0 (OpenID Connect, plain OAuth 2.0 providers) build on it; it names
none of them. Authlib builds the request, the challenge and the Basic client credentials."""

import hmac
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

from authlib.common.security import generate_token
from authlib.oauth2.auth import encode_client_secret_basic
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from adapters.http.client import HttpError, HttpResponse, SafeHttpClient
from domain.errors import LoginCancelled, LoginFailed, LoginMismatch, ProviderUnavailable
from domain.model import ProviderRedirect

log = logging.getLogger(__name__)

# Errors a person can cause at the provider, by declining or by not being signed in there.
DECLINED = frozenset({"access_denied"})
NEEDS_INTERACTION = frozenset(
    {"login_required", "consent_required", "interaction_required", "account_selection_required"}
)
PROVIDER_TROUBLE = frozenset({"server_error", "temporarily_unavailable"})


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
        **extra: str,
    ) -> ProviderRedirect:
        """Where to send the browser; what to keep until the answer: the state, the PKCE
        verifier and the redirect URI."""
        verifier = generate_token(64)
        url = prepare_grant_uri(
            endpoint,
            self.client_id,
            "code",
            redirect_uri=return_to,
            scope=scope,
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            **extra,
        )
        return ProviderRedirect(
            url, {"state": state, "verifier": verifier, "redirect_uri": return_to}
        )

    def exchange(
        self, token_endpoint: str, code: str, kept: Mapping[str, str], auth_methods: list[str]
    ) -> dict[str, Any]:
        """The token endpoint's answer to the code, the client authenticated by Basic unless
        the provider supports only client_secret_post."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": kept["redirect_uri"],
            "code_verifier": kept["verifier"],
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if "client_secret_basic" in auth_methods or "client_secret_post" not in auth_methods:
            # RFC 6749 2.3.1: id and secret are form-encoded before Basic encoding.
            client = SimpleNamespace(
                client_id=quote(self.client_id, safe=""),
                client_secret=quote(self.client_secret, safe=""),
            )
            encode_client_secret_basic(client, "POST", "", headers, "")
        else:
            form |= {"client_id": self.client_id, "client_secret": self.client_secret}
        return self.json("POST", token_endpoint, body=urlencode(form), headers=headers)

    def json(self, method: str, url: str, **options: Any) -> dict[str, Any]:
        """A JSON object from the provider; its trouble as the domain's errors."""
        with self._unreachable_as_domain_error():
            response = self.http.request(method, url, **options)
        if response.status >= 500:
            raise ProviderUnavailable()
        document = json_document(response)
        if response.status != 200:
            log.info(
                "%s provider refused a request: %s",
                self.label,
                document.get("error", response.status),
            )
            raise LoginFailed()
        return document

    @contextmanager
    def _unreachable_as_domain_error(self) -> Iterator[None]:
        try:
            yield
        except HttpError as error:
            log.info("%s provider unreachable: %s", self.label, type(error).__name__)
            raise ProviderUnavailable() from error


def check_state(answered: str | None, kept: str | None) -> None:
    """The answer belongs to the sign-in this browser began."""
    if not answered or not kept or not hmac.compare_digest(answered, kept):
        raise LoginMismatch()


def check_error(callback: Mapping[str, str], label: str = "OAuth 2.0") -> None:
    """An `error` in the answer as the domain's error: declined, needs a sign-in there, the
    provider in trouble, or anything else."""
    error = callback.get("error")
    if error is None:
        return
    log.info("%s provider answered with error %r", label, error)
    if error in DECLINED:
        raise LoginCancelled()
    if error in NEEDS_INTERACTION:
        raise LoginCancelled("Your provider needs you to sign in there first.")
    if error in PROVIDER_TROUBLE:
        raise ProviderUnavailable()
    raise LoginFailed()


def json_document(response: HttpResponse) -> dict[str, Any]:
    try:
        document = json.loads(response.body)
    except ValueError as error:
        raise LoginFailed() from error
    if not isinstance(document, dict):
        raise LoginFailed()
    return document
