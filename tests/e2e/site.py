import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import requests
from click.testing import Result
from flask import Flask

from adapters.sql.migrate import upgrade_database
from entrypoints.app import create_app
from entrypoints.cli.commands import register_commands
from entrypoints.container import Container
from tests.servers import serving

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NEXT_FIELD = re.compile(r'name="next" type="hidden" value="([^"]*)"')
# Where a signed-in owner is asked whether to connect the login that waited for the account.
CONFIRM_PATH = "/account/connect/confirm"


@dataclass
class Site:
    """The app served over HTTP on 127.0.0.1, beside the dev OpenID provider at `op`."""

    url: str
    app: Flask
    op: str

    @property
    def services(self) -> Container:
        return self.app.extensions["container"]

    def visitor(self) -> "Visitor":
        return Visitor(self)

    def decode_session(self, cookie: str) -> dict:
        return self.app.session_interface.get_signing_serializer(self.app).loads(cookie)

    def encode_session(self, data: dict) -> str:
        return self.app.session_interface.get_signing_serializer(self.app).dumps(data)

    def cli(self, *args: str) -> Result:
        register_commands(self.app)
        return self.app.test_cli_runner().invoke(args=list(args))


@contextmanager
def served_app(config: dict[str, Any]) -> Iterator[tuple[str, Flask]]:
    """The app made of `config`, migrated and served on a free port: its URL and itself."""
    apps: list[Flask] = []

    def make_app(base_url: str) -> Flask:
        apps.append(create_app(config | {"base_url": base_url}))
        upgrade_database(apps[0].extensions["container"].engine())
        return apps[0]

    with serving(make_app) as url:
        yield url, apps[0]
    apps[0].extensions["container"].shutdown_resources()


class Visitor:
    """One browser (a cookie jar) doing what a person does on the site."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.http = requests.Session()

    def get(self, path: str, **options) -> requests.Response:
        return self.http.get(self.site.url + path, timeout=10, **options)

    def post(self, path: str, data: dict, **options) -> requests.Response:
        return self.http.post(self.site.url + path, data=data, timeout=10, **options)

    def csrf_token(self, path: str = "/login") -> str:
        return CSRF_FIELD.search(self.get(path).text).group(1)

    def start_sign_in(
        self,
        *,
        provider="dev",
        identifier="",
        remember=False,
        path="/login",
        csrf=True,
        follow=True,
    ) -> requests.Response:
        """Open `path`, land on the login form, press a provider's button: ends at the
        provider (`follow=False`: at the site's redirect to it)."""
        page = self.get(path)
        form = {"provider": provider, "identifier": identifier}
        if remember:
            form["remember_me"] = "y"
        if next_path := NEXT_FIELD.search(page.text):
            form["next"] = next_path.group(1).replace("&amp;", "&")
        if 'name="again"' in page.text:  # a signed-in person asked to sign in again
            form["again"] = "1"
        if csrf:
            form["csrf_token"] = CSRF_FIELD.search(page.text).group(1)
        return self.http.post(
            self.site.url + "/login", data=form, timeout=10, allow_redirects=follow
        )

    def approve(self, provider_page, name=None, email="", decision="approve"):
        assert provider_page.url.startswith(f"{self.site.op}/approve/"), provider_page.url
        form = {"decision": decision, "email": email, **({"name": name} if name else {})}
        return self.http.post(provider_page.url, data=form, timeout=10)

    def approve_at_oidc(
        self, provider_page, name=None, email="", decision="approve", verified=False
    ):
        """The dev OIDC provider's page: type a name, approve or cancel."""
        assert "/interaction/" in provider_page.url, provider_page.url
        form = {"decision": decision, "email": email, **({"name": name} if name else {})}
        form |= {"email_verified": "yes"} if verified else {}
        return self.http.post(provider_page.url, data=form, timeout=10)

    def sign_in_with_oidc(self, name, email="", verified=False, **options) -> requests.Response:
        page = self.start_sign_in(provider="dev-oidc", **options)
        return self.approve_at_oidc(page, name, email, verified=verified)

    def sign_out_at_oidc(self, page: requests.Response) -> requests.Response:
        """On the dev OIDC provider's "sign out?" page, press "Yes, sign me out"; follows the
        provider on (back to the site, if the site sent the browser there)."""
        assert "Sign out of Dev OIDC?" in page.text, page.text[:500]
        action, fields = answer_form(page.text)
        return self.http.post(action, data=fields | {"logout": "yes"}, timeout=10)

    def approve_at_github(self, provider_page, login, email="", verified=False, decision="approve"):
        """The dev GitHub's page: type a login and an email, tick "verified", approve."""
        assert "/login/oauth/authorize?" in provider_page.url, provider_page.url
        form = {"decision": decision, "login": login, "email": email}
        form |= {"verified": "yes"} if verified else {}
        return self.http.post(provider_page.url, data=form, timeout=10)

    def sign_in_with_github(self, login, email="", verified=False, **options) -> requests.Response:
        page = self.start_sign_in(provider="dev-github", **options)
        return self.approve_at_github(page, login, email, verified)

    def account_action(self, path: str, **form: str) -> requests.Response:
        """Press a button of the account page (its form posted with the page's CSRF token)."""
        return self.post(path, {"csrf_token": self.csrf_token("/account"), **form})

    def connect(self, provider: str, identifier: str = "") -> requests.Response:
        """Start connecting another login: ends at the provider's page."""
        return self.account_action("/account/connect", provider=provider, identifier=identifier)

    def answer_waiting_login(self, decision="connect", csrf=True) -> requests.Response:
        """Press a button of the page that asks to connect a waiting login ("connect" or
        "discard"), with the CSRF token of that page."""
        form = {"decision": decision}
        if csrf:
            form["csrf_token"] = self.csrf_token(CONFIRM_PATH)
        return self.post(CONFIRM_PATH, form)

    def sign_in(self, name, email="", **options) -> requests.Response:
        return self.approve(self.start_sign_in(**options), name, email)

    def log_out(self, everywhere=False) -> requests.Response:
        token = self.csrf_token("/index")
        path = "/logout/everywhere" if everywhere else "/logout"
        return self.post(path, {"csrf_token": token})

    def post_back(self, provider_page: requests.Response, **changes: str) -> requests.Response:
        """What a browser does with a provider's auto-submitting answer page: post the form
        cross-site, which carries none of the site's SameSite=Lax cookies, then follow the
        site's redirects as this browser."""
        action, fields = answer_form(provider_page.text)
        assert action.startswith(f"{self.site.url}/login/return/"), action
        posted = requests.post(action, data=fields | changes, allow_redirects=False, timeout=10)
        if posted.status_code != 303:
            return posted
        return self.get(posted.headers["Location"].removeprefix(self.site.url))

    def greeting(self) -> str | None:
        """The index page's "Hi, ...!" if this browser is signed in, else None."""
        page = self.get("/index", allow_redirects=False)
        if page.status_code != 200:
            return None
        found = re.search(r"<h1>Hi, (.*?)!</h1>", page.text)
        return found.group(1) if found else None

    def cookies_named(self, *names: str) -> dict[str, str]:
        return {name: self.http.cookies[name] for name in names if name in self.http.cookies}

    def with_cookies(self, cookies: dict[str, str]) -> "Visitor":
        """A new browser holding only these cookies (copied from another one)."""
        other = Visitor(self.site)
        for name, value in cookies.items():
            other.http.cookies.set(name, value, domain="127.0.0.1", path="/")
        return other


def login_path(next_path: str) -> str:
    return "/login?" + urlencode({"next": next_path})


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


def answer_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of a provider's auto-submitting answer page."""
    reader = _FormReader()
    reader.feed(page)
    assert reader.action and reader.fields, page[:500]
    return reader.action, reader.fields
