"""`/healthz` (the process answers) and `/readyz` (it can serve: its database, and Redis
when configured, answer). Neither needs or sets a session cookie."""

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from entrypoints.web.deps import container

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return Response("ok\n", content_type="text/plain")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    checks = {name: check() for name, check in container().readiness_checks().items()}
    status = 200 if all(checks.values()) else 503
    answer = {name: "ok" if fine else "unreachable" for name, fine in checks.items()}
    return jsonify(answer), status
