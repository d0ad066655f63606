"""A Discord-shaped OAuth 2.0 provider of the tests' own, served over real HTTP, for the
generic adapter (protocol "oauth2"): /oauth2/authorize, /api/oauth2/token with Basic client
credentials and JSON answers, /api/users/@me (a flat user with a `verified` flag) and
/api/oauth2/@me (the same user nested under "user")."""

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

CLIENT_ID, CLIENT_SECRET = "1234567890", "discord-client-s3cret"


def discord_entry(fake: "FakeDiscord", key: str = "discord", **changes: Any) -> dict[str, Any]:
    return {
        "key": key,
        "protocol": "oauth2",
        "name": "Discord",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_url": f"{fake.base}/oauth2/authorize",
        "token_url": f"{fake.base}/api/oauth2/token",
        "userinfo_url": f"{fake.base}/api/users/@me",
        "scopes": "identify email",
        "nickname_field": "username",
        "email_field": "email",
        "email_verified_field": "verified",
    } | changes


def wumpus(**changes: Any) -> dict[str, Any]:
    return {
        "id": "80351110224678912",
        "username": "wumpus",
        "email": "wumpus@example.com",
        "verified": True,
    } | changes


@dataclass
class FakeDiscord:
    base: str = ""
    person: dict[str, Any] = field(default_factory=wumpus)
    deny: bool = False
    issued: list[str] = field(default_factory=list)
    authorize_queries: list[dict[str, str]] = field(default_factory=list)
    _grants: dict[str, dict[str, str]] = field(default_factory=dict)
    _tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        self.__init__(base=self.base)  # type: ignore[misc]

    def app(self, base: str) -> Flask:
        self.base = base
        app = Flask("fake_discord")

        @app.get("/oauth2/authorize")
        def authorize() -> Response:
            query = dict(request.args)
            self.authorize_queries.append(query)
            assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
            if self.deny:
                answer = {"error": "access_denied", "state": query["state"]}
            else:
                code = secrets.token_hex(10)
                self._grants[code] = query
                self.issued.append(code)
                answer = {"code": code, "state": query["state"]}
            return redirect(f"{query['redirect_uri']}?{urlencode(answer)}")

        @app.post("/api/oauth2/token")
        def token() -> Any:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                return jsonify({"error": "invalid_client"}), 401
            grant = self._grants.pop(request.form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != request.form.get("redirect_uri"):
                return jsonify({"error": "invalid_grant"}), 400
            if "code_challenge" in grant:
                verifier = request.form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                if challenge.rstrip(b"=").decode() != grant["code_challenge"]:
                    return jsonify({"error": "invalid_grant"}), 400
            access_token = secrets.token_urlsafe(24)
            self.issued.append(access_token)
            self._tokens[access_token] = dict(self.person)
            return jsonify({"access_token": access_token, "token_type": "Bearer"})

        @app.get("/api/users/@me")
        def me() -> Any:
            return jsonify(self._holder())

        @app.get("/api/oauth2/@me")
        def authorization_info() -> Any:
            return jsonify({"application": {"id": CLIENT_ID}, "user": self._holder()})

        return app

    def _holder(self) -> dict[str, Any]:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        person = self._tokens.get(token)
        assert person is not None, "a request to the API without a token the fake issued"
        return person
