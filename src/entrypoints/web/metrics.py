"""`/metrics` for Prometheus, answered only to the addresses MICROBLOG_METRICS_ALLOWED_NETWORKS
lists; the sign-in duration and rate-limit refusals are measured here."""

import ipaddress
import time
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, abort, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.metrics import LOGIN_SECONDS, RATE_LIMITED
from entrypoints.web.deps import container

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    services = container()
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:  # a trusted proxy forwarded something that is no address
        abort(404)
    allowed = services.config.metrics_allowed_networks()
    if not any(address in ipaddress.ip_network(network) for network in allowed):
        abort(404)  # as if there were nothing here
    body = generate_latest(services.metrics_registry())
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def measure(app: Flask) -> None:
    """Times the provider-return view, and counts requests a rate limit refused."""
    returning = app.view_functions["auth.provider_return"]

    @wraps(returning)  # keeps the view's name, by which CSRF and the limits know it
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return returning(*args, **kwargs)
        finally:
            LOGIN_SECONDS.observe(time.perf_counter() - started)

    app.view_functions["auth.provider_return"] = timed

    @app.after_request
    def count_refusals(response: Response) -> Response:
        if response.status_code == 429:
            RATE_LIMITED.labels(request.endpoint or "-").inc()
        return response
