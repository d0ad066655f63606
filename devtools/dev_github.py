"""A development GitHub: never expose it, it vouches for whoever asks. It speaks an OAuth
App's endpoints (/login/oauth/authorize, /login/oauth/access_token) and the REST API's
/user and /user/emails as GitHub Enterprise Server lays them out (under /api/v3), closely
enough that the site's GitHub adapter runs against it unchanged: the person types a login
and an email, ticks "verified" or not, and approves. The bench's (`auto_approve`) approves
at once as one login."""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, abort, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

CLIENT_ID, CLIENT_SECRET = "dev-github-client", "dev-github-secret"
KEY = "dev-github"
# GitHub's logins: letters, digits and single hyphens, at most 39 characters.
LOGIN_PATTERN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")


def dev_github_profile(url: str) -> dict[str, Any]:
    """The `[[providers]]` entry of the dev GitHub at `url`."""
    return {
        "key": KEY,
        "protocol": "github",
        "name": "Dev GitHub",
        "github_url": url,
        "api_url": f"{url}/api/v3",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def account_id(login: str) -> int:
    """A login's numeric id, the same at every start (GitHub's logins ignore case)."""
    return int.from_bytes(hashlib.sha256(login.lower().encode()).digest()[:4], "big")


@dataclass
class _Grant:
    redirect_uri: str
    challenge: str | None
    user: dict[str, Any]
    emails: list[dict[str, Any]]


@dataclass
class DevGitHub:
    base_url: str = "http://127.0.0.1:5003"
    # Where it sends answers: the site's return URLs for it (empty: any).
    redirect_uris: list[str] = field(default_factory=list)
    grants: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, _Grant] = field(default_factory=dict)
    # A login approved without asking (the bench's); None: the person types one.
    auto_approve: str | None = None


def create_dev_github(
    base_url: str, redirect_uris: list[str] | None = None, auto_approve: str | None = None
) -> Flask:
    state = DevGitHub(base_url.rstrip("/"), list(redirect_uris or []), auto_approve=auto_approve)
    app = Flask(__name__)

    def checked_request() -> dict[str, str]:
        query = request.args.to_dict()
        if query.get("client_id") != CLIENT_ID:
            abort(400, "unknown client_id")
        if state.redirect_uris and query.get("redirect_uri") not in state.redirect_uris:
            abort(400, "redirect_uri not registered")
        if not query.get("redirect_uri"):
            abort(400, "no redirect_uri")
        return query

    @app.get("/")
    def home() -> str:
        return render_template("dev_github/home.html", base=state.base_url)

    @app.route("/login/oauth/authorize", methods=["GET", "POST"])
    def authorize() -> ResponseReturnValue:
        query = checked_request()
        if request.method == "GET" and state.auto_approve:
            return approved(query, state.auto_approve, "", verified=False)
        if request.method == "GET":
            return render_template("dev_github/authorize.html", error=None)
        if request.form.get("decision") != "approve":
            back = query["redirect_uri"]
            return redirect(_with(back, error="access_denied", state=query.get("state")))
        login = request.form.get("login", "").strip()
        email = request.form.get("email", "").strip()
        if not LOGIN_PATTERN.fullmatch(login) or (email and not EMAIL_PATTERN.fullmatch(email)):
            error = "Type a GitHub-style login (letters, digits, single hyphens) and an email."
            return render_template("dev_github/authorize.html", error=error), 400
        return approved(query, login, email, verified=request.form.get("verified") == "yes")

    def approved(
        query: dict[str, str], login: str, email: str, verified: bool
    ) -> ResponseReturnValue:
        code = secrets.token_hex(10)
        user = {"id": account_id(login), "login": login, "name": None, "type": "User"}
        emails = [{"email": email, "primary": True, "verified": verified}] if email else []
        back = query["redirect_uri"]
        state.grants[code] = _Grant(back, query.get("code_challenge"), user, emails)
        return redirect(_with(back, code=code, state=query.get("state")))

    @app.post("/login/oauth/access_token")
    def access_token() -> Response:
        client_id, client_secret = _client_credentials()
        if client_id != CLIENT_ID or not hmac.compare_digest(client_secret, CLIENT_SECRET):
            return _token_answer({"error": "incorrect_client_credentials"})
        grant = state.grants.pop(request.form.get("code", ""), None)
        if grant is None or grant.redirect_uri != request.form.get("redirect_uri"):
            return _token_answer({"error": "bad_verification_code"})
        if grant.challenge is not None and _s256(request.form.get("code_verifier", "")) != (
            grant.challenge
        ):
            return _token_answer({"error": "bad_verification_code"})
        token = f"gho_{secrets.token_hex(18)}"
        state.tokens[token] = grant
        return _token_answer(
            {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
        )

    @app.get("/api/v3/user")
    def user() -> Response:
        return jsonify(_holder().user)

    @app.get("/api/v3/user/emails")
    def emails() -> Response:
        return jsonify(_holder().emails)

    def _holder() -> _Grant:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        grant = state.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        if grant is None:
            abort(Response('{"message": "Bad credentials"}', 401, mimetype="application/json"))
        return grant

    return app


def _client_credentials() -> tuple[str, str]:
    if request.authorization and request.authorization.type == "basic":
        return request.authorization.username or "", request.authorization.password or ""
    return request.form.get("client_id", ""), request.form.get("client_secret", "")


def _token_answer(answer: dict[str, str]) -> Response:
    """Always 200, as GitHub: JSON when asked for it, form-encoded otherwise."""
    if "application/json" in request.headers.get("Accept", ""):
        return jsonify(answer)
    return Response(urlencode(answer), content_type="application/x-www-form-urlencoded")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _with(url: str, **parameters: str | None) -> str:
    query = urlencode({k: v for k, v in parameters.items() if v is not None})
    return f"{url}{'&' if '?' in url else '?'}{query}"
