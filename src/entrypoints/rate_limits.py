"""Rate limits (Flask-Limiter): login starts per client address and per typed identifier,
provider returns per client address, account-page actions per user. Each app has its own
limiter; counters live in memory, or in Redis when MICROBLOG_REDIS_URL is set."""

from collections.abc import Callable, Collection, Mapping
from functools import wraps
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from flask_login import current_user

OFF = "off"
# (setting, the endpoints it limits, whose count it is)
LIMITED = [
    ("rate_limit_login", ["auth.login"], "client"),
    ("rate_limit_identifier", ["auth.login"], "identifier"),
    ("rate_limit_callback", ["auth.provider_return"], "client"),
    (
        "rate_limit_account",
        [
            "account.connect",
            "account.rename",
            "account.disconnect",
            "account.end_device",
            "account.end_other_devices",
        ],
        "user",
    ),
]


def client_address() -> str:
    return request.remote_addr or "unknown"


def typed_identifier() -> str:
    return "identifier:" + request.form.get("identifier", "").strip().casefold()


def signed_in_user() -> str:
    return f"user:{current_user.get_id() and current_user.id}"


KEYS: Mapping[str, Callable[[], str]] = {
    "client": client_address,
    "identifier": typed_identifier,
    "user": signed_in_user,
}
# A login started from a button types nothing: only the address limit counts it.
EXEMPT: Mapping[str, Callable[[], bool]] = {
    "identifier": lambda: not request.form.get("identifier", "").strip(),
}


def set_up_rate_limits(app: Flask, settings: Mapping[str, Any]) -> Limiter:
    limiter = Limiter(
        key_func=client_address,
        storage_uri=settings.get("redis_url") or "memory://",
        strategy="moving-window",
        headers_enabled=True,
        # A storage that is down is logged by Flask-Limiter and lets requests through.
        swallow_errors=True,
    )
    limited = {
        e for setting, endpoints, _ in LIMITED if settings[setting] != OFF for e in endpoints
    }
    # Pages without a limit (most of them) skip Flask-Limiter's work on every request.
    hooks_only_on(app, limited, limiter.init_app)
    for setting, endpoints, whose in LIMITED:
        limit = settings[setting]
        if limit == OFF:
            continue
        for endpoint in endpoints:
            app.view_functions[endpoint] = limiter.limit(  # type: ignore[assignment]
                limit,
                key_func=KEYS[whose],
                methods=["POST"] if endpoint != "auth.provider_return" else None,
                exempt_when=EXEMPT.get(whose),
                scope=f"{setting}:{endpoint}",
            )(app.view_functions[endpoint])
    return limiter


def hooks_only_on(app: Flask, endpoints: Collection[str], install: Callable[[Flask], None]) -> None:
    """Runs `install(app)` (an extension's init_app), then lets the app-wide request hooks it
    added run only on requests for `endpoints`."""
    # (the app's hooks, whether a hook hands back the response it is given)
    hook_lists: list[tuple[dict[Any, list[Callable[..., Any]]], bool]] = [
        (app.before_request_funcs, False),
        (app.after_request_funcs, True),
        (app.teardown_request_funcs, False),
    ]
    before = [list(hooks.get(None, [])) for hooks, _ in hook_lists]
    install(app)
    for (hooks, passes_response), kept in zip(hook_lists, before, strict=True):
        added = hooks.get(None, [])[len(kept) :]
        if added:
            hooks[None] = kept + [_only_on(endpoints, h, passes_response) for h in added]


def _only_on(
    endpoints: Collection[str], hook: Callable[..., Any], passes_response: bool
) -> Callable[..., Any]:
    @wraps(hook)
    def hook_here(*args: Any) -> Any:
        if request.endpoint in endpoints:
            return hook(*args)
        return args[0] if passes_response else None

    return hook_here
