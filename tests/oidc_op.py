"""A fake OpenID Connect provider of the tests' own, whose every answer a test can bend:
it mints ID tokens with joserfc, serves discovery, keys, token and userinfo over real HTTP."""

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask, Response, jsonify, request
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID, CLIENT_SECRET = "microblog", "s3cret-of-the-client"
DROP = object()  # a claim or header value that means "leave it out"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def at_hash(access_token: str) -> str:
    return b64(hashlib.sha256(access_token.encode()).digest()[:16])


@dataclass
class HostileProvider:
    base: str = ""
    signing_key: RSAKey = field(default_factory=lambda: rsa_key("k1"))
    published: list[RSAKey] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)  # changes to the ID token's claims
    header: dict[str, Any] = field(default_factory=dict)  # changes to its header
    discovery: dict[str, Any] = field(default_factory=dict)
    userinfo: dict[str, Any] = field(default_factory=dict)
    forge: str | None = None  # "none", "bad-signature", "hs256-with-public-key"
    jwks_status: int = 200  # anything else: its keys cannot be fetched
    calls: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # codes and tokens handed out
    _grants: dict[str, dict[str, str]] = field(default_factory=dict)

    def reset(self) -> None:
        self.__init__(base=self.base)  # type: ignore[misc]
        self.published = [self.signing_key]

    def rotate(self, kid: str) -> None:
        """Signs with a new key from now on and publishes only that one, as the OpenID
        Foundation's rp-key-rotation-op-sign-key provider does."""
        self.signing_key = rsa_key(kid)
        self.published = [self.signing_key]

    def authorize(self, redirect_url: str) -> dict[str, str]:
        """What the provider does when the browser arrives: it signs the person in and
        answers with a code for the relying party's callback."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(redirect_url).query).items()}
        assert redirect_url.startswith(f"{self.base}/authorize?")
        assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self._grants[code] = query
        self.issued.append(code)
        return {"code": code, "state": query["state"]}

    def id_token(self, grant: dict[str, str], access_token: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.base,
            "sub": "alice-sub",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": grant.get("nonce"),
            "at_hash": at_hash(access_token),
            "email": "alice@example.com",
            "email_verified": True,
            "preferred_username": "alice",
        } | self.claims
        claims = {k: v for k, v in claims.items() if v is not DROP}
        header = {"alg": "RS256", "kid": self.signing_key.kid} | self.header
        header = {k: v for k, v in header.items() if v is not DROP}
        if self.forge == "none":
            return (
                f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(claims).encode())}."
            )
        if self.forge == "hs256-with-public-key":
            signing_input = (
                f"{b64(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}."
                f"{b64(json.dumps(claims).encode())}"
            )
            secret = self.signing_key.as_pem(private=False)
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{b64(mac)}"
        token = jwt.encode(header, claims, self.signing_key, algorithms=[header["alg"]])
        if self.forge == "bad-signature":
            head, body, signature = token.split(".")
            token = f"{head}.{body}.{signature[:-6]}AAAAAA"
        return token

    def app(self, base: str) -> Flask:
        self.base = base
        self.published = [self.signing_key]
        app = Flask("hostile_op")

        @app.before_request
        def record() -> None:
            self.calls.append(request.path)

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Response:
            return jsonify(
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": f"{base}/token",
                    "jwks_uri": f"{base}/jwks",
                    "userinfo_endpoint": f"{base}/userinfo",
                    "response_types_supported": ["code"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                }
                | self.discovery
            )

        @app.get("/jwks")
        def jwks() -> Any:
            if self.jwks_status != 200:
                return jsonify({"error": "unavailable"}), self.jwks_status
            return jsonify({"keys": [key.as_dict(private=False) for key in self.published]})

        @app.post("/token")
        def token() -> Any:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                return jsonify({"error": "invalid_client"}), 401
            grant = self._grants.pop(request.form.get("code", ""), None)
            verifier = request.form.get("code_verifier", "")
            if grant is None or grant["redirect_uri"] != request.form.get("redirect_uri"):
                return jsonify({"error": "invalid_grant"}), 400
            if b64(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
                return jsonify({"error": "invalid_grant", "error_description": "PKCE"}), 400
            access_token = secrets.token_urlsafe(24)
            id_token = self.id_token(grant, access_token)
            self.issued += [access_token, id_token]
            return jsonify(
                {"access_token": access_token, "token_type": "Bearer", "id_token": id_token}
            )

        @app.get("/userinfo")
        def userinfo() -> Response:
            answer = {
                "sub": "alice-sub",
                "email": "alice@userinfo.example",
                "email_verified": "true",
                "preferred_username": "alice-from-userinfo",
            }
            return jsonify({k: v for k, v in (answer | self.userinfo).items() if v is not DROP})

        return app


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})
