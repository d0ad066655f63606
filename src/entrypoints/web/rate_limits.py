"""Rate limits (Flask-Limiter): login starts per client and per typed identifier, provider
returns and parked answers per client, account-page actions per user, logout notices per
provider. A client is its
address; an IPv6 one its network of MICROBLOG_RATE_LIMIT_IPV6_PREFIX bits. Each app has its
own limiter; counters live in the worker's memory (web/rate_limit_counters.py), or in Redis
when MICROBLOG_REDIS_URL is set."""

import hashlib
import ipaddress
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_login import current_user

from entrypoints.web.deps import container
from entrypoints.web.rate_limit_counters import SCHEME as WORKER_MEMORY

OFF = "off"
ANY_METHOD = None
MAX_UNPARSED_KEY = 64


@dataclass(frozen=True)
class Limited:
    setting: str
    endpoints: list[str]
    whose: str  # a key of the `keys` below
    methods: list[str] | None = None
    # Counted only when the request got through every other limit too.
    only_when_let_through: bool = False
    # Off also when this other setting is off.
    off_with: str | None = None


LIMITED = [
    Limited("rate_limit_login", ["auth.login"], "client", ["POST"]),
    # An identifier counts per client, so a stranger's attempts lock nobody else out...
    Limited("rate_limit_identifier", ["auth.login"], "identifier from client", ["POST"]),
    # ...and from all clients together, under a far higher ceiling that a client's refused
    # attempts do not fill.
    Limited(
        "rate_limit_identifier_total",
        ["auth.login"],
        "identifier",
        ["POST"],
        only_when_let_through=True,
        off_with="rate_limit_identifier",
    ),
    Limited("rate_limit_callback", ["auth.provider_return"], "client", ANY_METHOD),
    # An answer posted to the return URL is parked (kept server side) until its browser comes.
    Limited("rate_limit_parked", ["auth.provider_return"], "client", ["POST"]),
    # A provider's logout notices come from its servers, not from people's browsers.
    # Per provider and sender: junk posted from one address must not use up the provider's own.
    Limited(
        "rate_limit_backchannel", ["auth.backchannel_logout"], "provider from client", ["POST"]
    ),
    Limited(
        "rate_limit_account",
        [
            "account.connect",
            "account.rename",
            "account.disconnect",
            "account.end_device",
            "account.end_other_devices",
        ],
        "user",
        ["POST"],
    ),
]


def client_key(address: str | None, ipv6_prefix: int) -> str:
    """Who a request counts as: its IPv4 address (an IPv4-mapped IPv6 one too), or its IPv6
    network of `ipv6_prefix` bits, since one site holds a whole /64 or more. Text that is no
    address (from a proxy, say) counts as itself, shortened."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return "unparsed:" + (address or "unknown")[:MAX_UNPARSED_KEY]
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(parsed), ipv6_prefix), strict=False))


def typed_identifier() -> str:
    """The identifier typed, as the chosen provider counts it (every spelling of one
    identifier alike), hashed: counters hold no identifiers and have short keys."""
    form = request.form
    key = (
        container()
        .round_trips()
        .identifier_key(form.get("provider", ""), form.get("identifier", ""))
    )
    return "identifier:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def provider_in_path() -> str:
    """The provider a request is for, by the key in its path (cut short: anyone can post)."""
    key = (request.view_args or {}).get("key", "")
    return f"provider:{str(key)[:MAX_UNPARSED_KEY]}"


def signed_in_user() -> str:
    return f"user:{current_user.get_id() and current_user.id}"


def key_functions(settings: Mapping[str, Any]) -> Mapping[str, Callable[[], str]]:
    prefix = settings["rate_limit_ipv6_prefix"]

    def client() -> str:
        return client_key(request.remote_addr, prefix)

    return {
        "client": client,
        "identifier": typed_identifier,
        "identifier from client": lambda: f"{typed_identifier()} from:{client()}",
        "user": signed_in_user,
        "provider from client": lambda: f"{provider_in_path()} from:{client()}",
    }


def _nothing_typed() -> bool:
    return not request.form.get("identifier", "").strip()


# A login started from a button types nothing: only the client limit counts it.
EXEMPT: Mapping[str, Callable[[], bool]] = {
    "identifier": _nothing_typed,
    "identifier from client": _nothing_typed,
}


def _let_through(response: Response) -> bool:
    return response.status_code != 429


def _is_on(limited: Limited, settings: Mapping[str, Any]) -> bool:
    switches = [limited.setting] + ([limited.off_with] if limited.off_with else [])
    return all(settings[setting] != OFF for setting in switches)


def set_up_rate_limits(app: Flask, settings: Mapping[str, Any]) -> Limiter:
    keys = key_functions(settings)
    limiter = Limiter(
        key_func=keys["client"],
        storage_uri=settings.get("redis_url") or f"{WORKER_MEMORY}://",
        strategy="moving-window",
        headers_enabled=True,
        # A storage that is down is logged by Flask-Limiter and lets requests through.
        swallow_errors=True,
    )
    active = [limited for limited in LIMITED if _is_on(limited, settings)]
    limiter.init_app(app)
    counted_only_on(limiter, counted_methods(active))
    for limited in active:
        for endpoint in limited.endpoints:
            app.view_functions[endpoint] = limiter.limit(  # type: ignore[assignment]
                settings[limited.setting],
                key_func=keys[limited.whose],
                methods=limited.methods,
                exempt_when=EXEMPT.get(limited.whose),
                deduct_when=_let_through if limited.only_when_let_through else None,
                scope=f"{limited.setting}:{endpoint}",
            )(app.view_functions[endpoint])
    return limiter


def counted_methods(active: Collection[Limited]) -> dict[str, frozenset[str] | None]:
    """Per limited endpoint, the methods some limit counts (None: any method)."""
    counted: dict[str, frozenset[str] | None] = {}
    for limited in active:
        # Flask-Limiter reads methods in any case: so must the filter that skips it.
        methods = None if limited.methods is None else frozenset(m.upper() for m in limited.methods)
        for endpoint in limited.endpoints:
            known = counted.get(endpoint, frozenset())
            counted[endpoint] = None if known is None or methods is None else known | methods
    return counted


def counted_only_on(limiter: Limiter, counted: Mapping[str, frozenset[str] | None]) -> None:
    """Requests no limit counts skip Flask-Limiter's work: pages without a limit (most of
    them), and a limited page asked for by a method its limits leave alone (the login page's
    GET). Its request filter exempts them from limits, of which they have none."""

    def counts_none() -> bool:
        endpoint = request.endpoint
        if endpoint is None or endpoint not in counted:
            return True
        methods = counted[endpoint]
        return methods is not None and request.method.upper() not in methods

    limiter.request_filter(counts_none)
