"""A development OpenID 2.0 provider: never expose it, it vouches for whoever asks."""

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, abort, redirect, render_template, request
from flask.typing import ResponseReturnValue
from openid.association import SessionNegotiator
from openid.consumer.discover import OPENID_2_0_TYPE, OPENID_IDP_2_0_TYPE
from openid.extensions import ax, sreg
from openid.server.server import ENCODE_KVFORM, CheckIDRequest, ProtocolError, Server
from openid.store.memstore import MemoryStore

NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
XRDS_TYPE = "application/xrds+xml"
AX_VALUES = {
    "http://axschema.org/contact/email": "email",
    "http://axschema.org/namePerson/friendly": "nickname",
}


@dataclass(frozen=True)
class DevProviderSettings:
    base_url: str = "http://127.0.0.1:5001"
    # Benchmarks and scripted logins: approve at once, as the name asked for or `auto_name`.
    auto_approve: bool = False
    auto_name: str = "dev-user"
    # False plays a provider like Steam, which sends neither SReg nor AX.
    send_profile: bool = True
    # True plays a provider that refuses associations (relying parties go stateless).
    refuse_associations: bool = False
    # True sends every answer back as an auto-submitted form (a cross-site POST), as
    # python3-openid's server does by itself for answers longer than 2,047 characters.
    post_answers: bool = False


def create_dev_provider(settings: DevProviderSettings | None = None) -> Flask:
    settings = settings or DevProviderSettings()
    app = Flask(__name__)
    base = settings.base_url.rstrip("/")
    endpoint_url = f"{base}/endpoint"
    server = Server(MemoryStore(), endpoint_url)
    # No plain-text secrets: over http they would travel in the clear.
    server.negotiator = SessionNegotiator([("HMAC-SHA256", "DH-SHA256"), ("HMAC-SHA1", "DH-SHA1")])
    pending: dict[str, CheckIDRequest] = {}

    def identity_url(name: str) -> str:
        return f"{base}/id/{quote(name)}"

    def wants_xrds() -> bool:
        return XRDS_TYPE in request.headers.get("Accept", "")

    def xrds(service_type: str, local_id: str | None = None) -> Response:
        body = render_template(
            "dev_provider/xrds.xml", type=service_type, endpoint=endpoint_url, local_id=local_id
        )
        return Response(body, content_type=XRDS_TYPE)

    @app.get("/")
    def op_identifier() -> Response | str:
        if wants_xrds():
            return xrds(OPENID_IDP_2_0_TYPE)
        return render_template("dev_provider/home.html", base=base, endpoint=endpoint_url)

    @app.get("/id/<name>")
    def identity_page(name: str) -> Response | str:
        if not NAME_PATTERN.fullmatch(name):
            abort(404)
        if wants_xrds():
            return xrds(OPENID_2_0_TYPE, identity_url(name))
        page = render_template(
            "dev_provider/identity.html", name=name, endpoint=endpoint_url, xrds=request.url
        )
        return Response(page, headers={"X-XRDS-Location": f"{identity_url(name)}?xrds"})

    @app.route("/endpoint", methods=["GET", "POST"])
    def endpoint() -> ResponseReturnValue:
        query = request.form.to_dict() if request.method == "POST" else request.args.to_dict()
        try:
            openid_request = server.decodeRequest(query)
        except ProtocolError as error:
            return Response(f"Bad OpenID request: {error}\n", 400, content_type="text/plain")
        if openid_request is None:
            return render_template("dev_provider/home.html", base=base, endpoint=endpoint_url)
        if openid_request.mode == "associate" and settings.refuse_associations:
            return _kv_error("this provider makes no associations", 400)
        if isinstance(openid_request, CheckIDRequest):
            return check_id(openid_request)
        return to_flask(server.handleRequest(openid_request))

    def check_id(openid_request: CheckIDRequest) -> ResponseReturnValue:
        if settings.auto_approve:
            name = _name_of(openid_request, base) or settings.auto_name
            return to_flask(approve(openid_request, name, f"{name}@dev.example"))
        if openid_request.immediate:
            return to_flask(openid_request.answer(False))
        ticket = secrets.token_urlsafe(16)
        pending[ticket] = openid_request
        return redirect(f"{base}/approve/{ticket}", 303)

    @app.route("/approve/<ticket>", methods=["GET", "POST"])
    def approval(ticket: str) -> ResponseReturnValue:
        openid_request = pending.get(ticket)
        if openid_request is None:
            abort(404)
        fixed_name = _name_of(openid_request, base)
        if request.method == "GET":
            return render_template(
                "dev_provider/approve.html",
                realm=openid_request.trust_root,
                fixed_name=fixed_name,
                error=None,
            )
        pending.pop(ticket)
        if request.form.get("decision") != "approve":
            return to_flask(openid_request.answer(False))
        name = fixed_name or request.form.get("name", "").strip()
        if not NAME_PATTERN.fullmatch(name):
            pending[ticket] = openid_request
            page = render_template(
                "dev_provider/approve.html",
                realm=openid_request.trust_root,
                fixed_name=fixed_name,
                error="A name is 1 to 64 letters, digits, dots, dashes or underscores.",
            )
            return Response(page, 400)
        return to_flask(approve(openid_request, name, request.form.get("email", "").strip()))

    def approve(openid_request: CheckIDRequest, name: str, email: str):  # type: ignore[no-untyped-def]
        url = identity_url(name)
        if openid_request.idSelect():
            response = openid_request.answer(True, identity=url, claimed_id=url)
        else:
            response = openid_request.answer(True)
        if settings.send_profile:
            _add_profile(openid_request, response, {"nickname": name, "email": email})
        return response

    def to_flask(openid_response) -> Response:  # type: ignore[no-untyped-def]
        if settings.post_answers and openid_response.whichEncoding() != ENCODE_KVFORM:
            if openid_response.needsSigning():  # what encodeResponse would do first
                openid_response = server.signatory.sign(openid_response)
            return Response(openid_response.toHTML(), content_type="text/html")
        web = server.encodeResponse(openid_response)
        status = web.code
        # python3-openid answers "unsupported-type" with 200; the spec (and its consumer) say 400.
        if openid_response.fields.getArg("http://specs.openid.net/auth/2.0", "error_code") == (
            "unsupported-type"
        ):
            status = 400
        return Response(web.body, status, headers=dict(web.headers))

    return app


def _name_of(openid_request: CheckIDRequest, base: str) -> str | None:
    if openid_request.idSelect():
        return None
    prefix = f"{base}/id/"
    identity = openid_request.identity or ""
    return identity[len(prefix) :] if identity.startswith(prefix) else None


def _add_profile(openid_request, response, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    present = {key: value for key, value in values.items() if value}
    registration = sreg.SRegRequest.fromOpenIDRequest(openid_request)
    response.addExtension(sreg.SRegResponse.extractResponse(registration, present))
    exchange = ax.FetchRequest.fromOpenIDRequest(openid_request)
    if exchange is not None:
        answer = ax.FetchResponse(request=exchange)
        for type_uri in exchange.requested_attributes:
            value = present.get(AX_VALUES.get(type_uri, ""))
            if value:
                answer.addValue(type_uri, value)
        response.addExtension(answer)


def _kv_error(text: str, status: int) -> Response:
    body = f"ns:http://specs.openid.net/auth/2.0\nerror:{text}\n"
    return Response(body, status, content_type="text/plain")


def dev_provider_profile(dev_url: str) -> dict[str, Any]:
    """The `[[providers]]` entry of the dev OpenID provider at `dev_url`."""
    return {
        "key": "dev",
        "name": "Dev OpenID",
        "op_identifier": f"{dev_url}/",
        "claimed_id_prefix": f"{dev_url}/id/",
    }
