import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from domain.errors import DomainError, RecentSignInRequired
from domain.inputs import MAX_IDENTIFIER_LENGTH
from entrypoints.deps import container
from entrypoints.error_pages import status_of

bp = Blueprint("account", __name__, url_prefix="/account")

# (product token in the User-Agent, name shown): the first that matches wins.
BROWSERS = [
    ("Edg", "Edge"),
    ("Firefox", "Firefox"),
    ("HeadlessChrome", "Headless Chrome"),
    ("Chrome", "Chrome"),
    ("Version", "Safari"),
]
SYSTEMS = [
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
]


def browser_of(user_agent: str | None) -> str:
    """A short name for a User-Agent: "Chrome 156 on Linux"."""
    if not user_agent:
        return "Unknown browser"
    found = ((shown, re.search(rf"\b{token}/(\d+)", user_agent)) for token, shown in BROWSERS)
    label = next((f"{shown} {match.group(1)}" for shown, match in found if match), None)
    if label is None:
        return user_agent[:40]
    system = next((shown for marker, shown in SYSTEMS if marker in user_agent), None)
    return f"{label} on {system}" if system else label


def readable_subject(namespace: str, subject: str) -> str:
    """An OpenID identity is its URL; an OpenID Connect one, its subject at its issuer."""
    if namespace == "openid":
        return subject
    return f"{subject} at {urlsplit(namespace).netloc or namespace}"


def account_page(status: int = 200) -> ResponseReturnValue:
    services = container()
    overview = services.accounts().overview(current_user.id, current_user.get_id())
    page = render_template(
        "account.html",
        title="Account",
        overview=overview,
        buttons=services.logins().choices(),
        max_identifier_length=MAX_IDENTIFIER_LENGTH,
        browser_of=browser_of,
        readable_subject=readable_subject,
    )
    return page, status


def showing_errors_on_the_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A domain error becomes a message on the account page with its status."""

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except RecentSignInRequired:
            raise
        except DomainError as error:
            flash(error.message, "error")
            return account_page(status_of(error))

    return run


@bp.get("")
@login_required
def page() -> ResponseReturnValue:
    return account_page()


@bp.post("/nickname")
@login_required
@showing_errors_on_the_page
def rename() -> ResponseReturnValue:
    nickname = container().accounts().rename(current_user.id, request.form.get("nickname", ""))
    flash(f"Your nickname is now {nickname}.", "info")
    return redirect(url_for("account.page"))


@bp.post("/connect")
@login_required
@showing_errors_on_the_page
def connect() -> ResponseReturnValue:
    started = (
        container()
        .logins()
        .begin_connect(
            request.form.get("provider", ""),
            current_user.get_id(),
            identifier=request.form.get("identifier") or None,
        )
    )
    session["login_transaction"] = started.transaction_id
    return redirect(started.redirect_url, 303)


@bp.post("/disconnect")
@login_required
@showing_errors_on_the_page
def disconnect() -> ResponseReturnValue:
    name = (
        container()
        .accounts()
        .disconnect(
            current_user.get_id(),
            request.form.get("namespace", ""),
            request.form.get("subject", ""),
        )
    )
    flash(f"Disconnected your {name} login.", "info")
    return redirect(url_for("account.page"))


@bp.post("/devices/end")
@login_required
@showing_errors_on_the_page
def end_device() -> ResponseReturnValue:
    container().accounts().end_device(current_user.id, request.form.get("device", ""))
    flash("That device is signed out.", "info")
    return redirect(url_for("account.page"))


@bp.post("/devices/end-others")
@login_required
@showing_errors_on_the_page
def end_other_devices() -> ResponseReturnValue:
    ended = container().accounts().end_other_devices(current_user.id, current_user.get_id())
    flash(f"Signed out everywhere else ({ended} sessions ended).", "info")
    return redirect(url_for("account.page"))
