import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dependency_injector import providers
from flask import Flask, Response, has_request_context, request, url_for
from flask_login import LoginManager
from werkzeug.middleware.proxy_fix import ProxyFix

from entrypoints.container import Container
from entrypoints.protocols import PROTOCOLS, ProtocolAdapter
from entrypoints.settings import ConfigurationError, load_settings
from entrypoints.web import account, auth, health, languages, metrics, pages
from entrypoints.web.csrf_tokens import csrf, sign_csrf_tokens_once_a_minute
from entrypoints.web.deps import container
from entrypoints.web.error_pages import register_error_pages
from entrypoints.web.i18n import set_up_languages
from entrypoints.web.login_user import SessionUser
from entrypoints.web.logs import set_up_request_ids
from entrypoints.web.page_templates import PageTemplates
from entrypoints.web.rate_limits import set_up_rate_limits
from entrypoints.web.session_cookies import SessionCookies

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The OpenID answer travels in the return URL's query: never hand it to another site.
    "Referrer-Policy": "same-origin",
}
MAX_REQUEST_BYTES = 64 * 1024
DEV_SECRET = re.compile(r"[0-9a-f]{64}")
SECURITY_HEADERS_HTTPS = SECURITY_HEADERS | {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains"
}
PRIVATE_BLUEPRINTS = frozenset({"auth", "account", "pages"})
LINKS_KEPT = 256


def create_app(
    config: Mapping[str, Any] | None = None,
    protocols: Mapping[str, ProtocolAdapter] = PROTOCOLS,
    added_providers: Sequence[Mapping[str, Any]] = (),
) -> Flask:
    """The web app. `config` overrides the settings (see entrypoints.settings); `protocols`
    is the registry of sign-in protocols; `added_providers` are provider entries offered
    unless configured (see load_settings). Bad settings raise ConfigurationError here."""
    settings = load_settings(config, protocols=protocols, added_providers=added_providers)
    services = Container()
    services.protocols.override(providers.Object(protocols))
    services.config.from_dict(settings)
    services.identity_providers()  # built at start, connecting to nothing
    app = Flask(
        __name__,
        instance_path=settings["instance_path"],
        template_folder="web/templates",
        static_folder="web/static",
    )
    # Before anything reads app.jinja_env: templates are compiled once per language.
    app.jinja_environment = PageTemplates
    app.extensions["container"] = services
    app.session_interface = SessionCookies()
    app.config.update(_flask_config(settings, services))
    # The return URL takes providers' answers posted from their own sites, which carry no
    # CSRF token; an answer is bound to its login by the provider adapter instead.
    csrf.init_app(app)
    csrf.exempt(auth.provider_return)
    sign_csrf_tokens_once_a_minute(app)
    _set_up_login(app)
    set_up_languages(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(languages.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(pages.bp)
    set_up_request_ids(app, from_proxies=bool(settings["trusted_proxies"]))
    metrics.measure(app)  # before the limits wrap the views: a refused return is not timed
    set_up_rate_limits(app, settings)
    register_error_pages(app)
    app.after_request(_security_headers(app.config["MICROBLOG_HTTPS"]))
    app.jinja_env.globals["url_for"] = _remembered_links()
    if settings["trusted_proxies"]:
        # Client address and scheme from the X-Forwarded-* headers the proxies in front set.
        hops = settings["trusted_proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


def _flask_config(settings: Mapping[str, Any], services: Container) -> dict[str, Any]:
    https = settings["base_url"].startswith("https://")
    cookie = {"HTTPONLY": True, "SAMESITE": "Lax", "SECURE": https}
    # "__Host-": browsers take such a cookie only from a secure origin, for the whole host,
    # so a neighbouring subdomain or a plain-http page cannot plant or shadow it.
    prefix = "__Host-" if https else ""
    return {
        "SESSION_COOKIE_NAME": f"{prefix}session",
        "REMEMBER_COOKIE_NAME": f"{prefix}remember_token",
        "MICROBLOG_HTTPS": https,
        "SECRET_KEY": _secret_key(settings),
        "MAX_CONTENT_LENGTH": MAX_REQUEST_BYTES,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "REMEMBER_COOKIE_DURATION": services.session_policy().remembered_lifetime,
        **{f"SESSION_COOKIE_{name}": value for name, value in cookie.items()},
        **{f"REMEMBER_COOKIE_{name}": value for name, value in cookie.items()},
        "TESTING": bool(settings.get("testing", False)),
        "BABEL_TRANSLATION_DIRECTORIES": "web/translations",
    }


def _secret_key(settings: Mapping[str, Any]) -> str:
    if settings.get("secret_key"):
        return str(settings["secret_key"])
    # Settings refuse production without a key, so this is development.
    return _instance_secret(Path(settings["instance_path"]) / "secret_key")


def _instance_secret(path: Path) -> str:
    """The development secret key, made once and kept (0600) so restarts keep sessions.

    It is written whole to a file of its own, then linked into place: a worker starting at
    the same moment finds either no key or a complete one, never half of it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another worker's key got there first: everyone uses that one
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if not DEV_SECRET.fullmatch(key):
        raise ConfigurationError(f"{path} is not a key this site made: delete it to make a new one")
    return key


def _set_up_login(app: Flask) -> None:
    # Our own context processor (error_pages.navigation) gives templates the user, so that a
    # page about a database outage can still render while loading the user fails.
    manager = LoginManager(app, add_context_processor=False)
    manager.login_view = "auth.login"
    # The login page says "please log in" when it has a `next` page to return to: a flash
    # would be written into the session cookie by every anonymous hit on a protected page.
    manager.login_message = None
    # Sessions are rows the site can end (see SessionUser); "recent sign-in" is the domain's
    # rule. Flask-Login's freshness marks would only rewrite cookies and hash every request.
    manager.session_protection = None

    @manager.user_loader
    def load_user(token: str) -> SessionUser | None:
        user = container().session_service().current_user(token)
        return None if user is None else SessionUser(user, token)


def _remembered_links() -> Callable[..., str]:
    """`url_for` for templates, each link built once per mount point: the links in them name
    fixed endpoints with fixed arguments, and a path changes only with the app's mount point.
    Links with other arguments (`_external`, objects, ...) are built every time."""
    built: dict[tuple[Any, ...], str] = {}

    def link(endpoint: str, **arguments: Any) -> str:
        if not has_request_context():
            return url_for(endpoint, **arguments)
        # The types too: 1, 1.0 and True are equal keys, but not the same link.
        key = (request.script_root, endpoint, *arguments.items(), *map(type, arguments.values()))
        try:
            return built[key]
        except KeyError:
            made = url_for(endpoint, **arguments)
            if _fixed(endpoint, arguments) and len(built) < LINKS_KEPT:
                built[key] = made
            return made
        except TypeError:  # an argument that cannot be a key
            return url_for(endpoint, **arguments)

    return link


def _fixed(endpoint: str, arguments: Mapping[str, Any]) -> bool:
    return not endpoint.startswith(".") and all(
        type(value) in (str, int) and not name.startswith("_") for name, value in arguments.items()
    )


def _security_headers(https: bool) -> Callable[[Response], Response]:
    listed = tuple(
        (name, name.lower(), value)
        for name, value in (SECURITY_HEADERS_HTTPS if https else SECURITY_HEADERS).items()
    )

    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for name, lowered, value in listed:
            if lowered not in present:  # a page may set its own
                headers.add(name, value)
        if request.blueprint in PRIVATE_BLUEPRINTS:
            # Sign-in pages, providers' answers and account details stay out of every cache.
            headers["Cache-Control"] = "no-store"
        return response

    return add_security_headers
