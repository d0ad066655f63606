"""A fake GitHub of the tests' own, served over real HTTP: the OAuth App endpoints
(/login/oauth/authorize, /login/oauth/access_token) and the REST API's /user and
/user/emails, as GitHub Enterprise Server lays them out (the API under /api/v3). Whoever
arrives at its authorize page is signed in as `person` at once; a test bends any answer."""

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask, Response, jsonify, redirect, request

CLIENT_ID, CLIENT_SECRET = "Iv1.microblog", "github-client-s3cret"
DROP = object()  # a field value that means "leave it out"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def github_entry(fake: "FakeGitHub", key: str = "github", **changes: Any) -> dict[str, Any]:
    """The `[[providers]]` entry of the site for this fake."""
    return {
        "key": key,
        "protocol": "github",
        "name": "GitHub",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "github_url": fake.base,
        "api_url": f"{fake.base}/api/v3",
    } | changes


def primary(address: str, verified: bool = True) -> dict[str, Any]:
    return {"email": address, "primary": True, "verified": verified, "visibility": "private"}


def secondary(address: str, verified: bool = True) -> dict[str, Any]:
    return {"email": address, "primary": False, "verified": verified, "visibility": None}


@dataclass
class FakeGitHub:
    base: str = ""
    # Who signs in next: the /user answer (DROP removes a field) and /user/emails.
    person: dict[str, Any] = field(default_factory=lambda: octocat())
    emails: list[dict[str, Any]] = field(default_factory=lambda: [primary("octocat@example.com")])
    emails_status: int = 200  # 404: the scope was not granted, as GitHub answers then
    user_status: int = 200
    deny: bool = False  # the person presses "Cancel" (error=access_denied)
    token_error: str | None = None  # an `error` inside a 200, as GitHub answers
    # GitHub answers form-encoded unless asked for JSON; True: form-encoded whatever asked.
    form_tokens: bool = False
    calls: list[str] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # codes and tokens handed out
    _grants: dict[str, dict[str, str]] = field(default_factory=dict)
    _tokens: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=dict)

    def reset(self) -> None:
        self.__init__(base=self.base)  # type: ignore[misc]

    def app(self, base: str) -> Flask:
        self.base = base
        app = Flask("fake_github")

        @app.before_request
        def record() -> None:
            self.calls.append(request.path)

        @app.get("/login/oauth/authorize")
        def authorize() -> Response:
            query = request.args
            assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
            assert query["code_challenge_method"] == "S256"
            back = query["redirect_uri"]
            if self.deny:
                answer = {"error": "access_denied", "state": query["state"]}
                return redirect(f"{back}?{urlencode(answer)}")
            code = secrets.token_hex(10)
            self._grants[code] = dict(query)
            self.issued.append(code)
            return redirect(f"{back}?{urlencode({'code': code, 'state': query['state']})}")

        @app.post("/login/oauth/access_token")
        def access_token() -> Any:
            self.token_requests.append(dict(request.form) | dict(request.headers))
            form = request.form
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return self._tokens_answer({"error": "incorrect_client_credentials"})
            grant = self._grants.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return self._tokens_answer({"error": "bad_verification_code"})
            verifier = form.get("code_verifier", "")
            if b64(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
                return self._tokens_answer({"error": "bad_verification_code"})
            if self.token_error:
                return self._tokens_answer({"error": self.token_error})
            token = f"gho_{secrets.token_hex(16)}"
            self.issued.append(token)
            self._tokens[token] = (dict(self.person), list(self.emails))
            return self._tokens_answer(
                {"access_token": token, "token_type": "bearer", "scope": grant["scope"]}
            )

        @app.get("/api/v3/user")
        def user() -> Any:
            person, _ = self._holder()
            if self.user_status != 200:
                return jsonify({"message": "Bad credentials"}), self.user_status
            return jsonify({k: v for k, v in person.items() if v is not DROP})

        @app.get("/api/v3/user/emails")
        def emails() -> Any:
            _, emails = self._holder()
            if self.emails_status != 200:
                return jsonify({"message": "Not Found"}), self.emails_status
            return jsonify(emails)

        return app

    def _holder(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        authorization = request.headers.get("Authorization", "")
        held = self._tokens.get(authorization.removeprefix("Bearer "))
        assert held is not None, "a request to the API without a token the fake issued"
        return held

    def _tokens_answer(self, answer: dict[str, str]) -> Response:
        """Always 200, as GitHub: JSON when asked for it, form-encoded otherwise."""
        if "application/json" in request.headers.get("Accept", "") and not self.form_tokens:
            return jsonify(answer)
        return Response(urlencode(answer), content_type="application/x-www-form-urlencoded")


def octocat(**changes: Any) -> dict[str, Any]:
    return {"id": 583231, "login": "octocat", "name": "The Octocat", "type": "User"} | changes


def answer_parameters(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
