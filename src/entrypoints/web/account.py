import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from adapters.protocols import subject_at_its_issuer
from domain.errors import DomainError, InvalidInput, NothingToConnect, RecentSignInRequired
from domain.inputs import MAX_IDENTIFIER_LENGTH
from entrypoints.web.auth import CONFIRM_CONNECT_KEY, SIGN_IN_KEY
from entrypoints.web.deps import container
from entrypoints.web.error_messages import error_message
from entrypoints.web.error_pages import status_of
from entrypoints.web.i18n import _, ngettext

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
        return _("Unknown browser")
    found = ((shown, re.search(rf"\b{token}/(\d+)", user_agent)) for token, shown in BROWSERS)
    label = next((f"{shown} {match.group(1)}" for shown, match in found if match), None)
    if label is None:
        return user_agent[:40]
    system = next((shown for marker, shown in SYSTEMS if marker in user_agent), None)
    return _("%(browser)s on %(system)s", browser=label, system=system) if system else label


def readable_subject(
    namespace: str, subject: str, handle: str | None = None, provider: str = ""
) -> str:
    """An identity as the protocol package of the provider that added it shows it (OpenID:
    its URL; OpenID Connect: its subject at its issuer; GitHub: its login)."""
    described: str = container().describe_subject()(namespace, subject, handle, provider)
    if described != subject_at_its_issuer(namespace, subject):
        return described
    issuer = urlsplit(namespace).netloc or namespace
    return _("%(subject)s at %(issuer)s", subject=subject, issuer=issuer)


def account_page(status: int = 200) -> ResponseReturnValue:
    overview = container().accounts().overview(current_user.id, current_user.get_id())
    page = render_template(
        "account.html",
        title=_("Account"),
        overview=overview,
        buttons=overview.choices,
        max_identifier_length=MAX_IDENTIFIER_LENGTH,
        browser_of=browser_of,
        readable_subject=readable_subject,
    )
    return page, status


def _on_the_page(error: DomainError) -> ResponseReturnValue:
    flash(error_message(error), "error")
    return account_page(status_of(error))


AccountView = Callable[[], str | ResponseReturnValue]


def account_action(path: str) -> Callable[[AccountView], Callable[[], ResponseReturnValue]]:
    """A button of the account page. A view that returns text has it told to the person, who
    comes back to the page; one that returns a response sends the browser on. A domain error
    is shown on the page with its status."""

    def register(view: AccountView) -> Callable[[], ResponseReturnValue]:
        @wraps(view)
        def run() -> ResponseReturnValue:
            try:
                done = view()
            except RecentSignInRequired:
                raise  # the site's handler asks the person to sign in again
            except DomainError as error:
                return _on_the_page(error)
            if not isinstance(done, str):
                return done
            flash(done, "info")
            return redirect(url_for("account.page"))

        return bp.post(path)(login_required(run))  # type: ignore[no-any-return]

    return register


@bp.get("")
@login_required
def page() -> ResponseReturnValue:
    return account_page()


@account_action("/connect")
def connect() -> ResponseReturnValue:
    """Starts a round trip to the provider (see auth.provider_return for its end)."""
    started = (
        container()
        .round_trips()
        .begin_connect(
            request.form.get("provider", ""),
            current_user.get_id(),
            identifier=request.form.get("identifier") or None,
            next_url=url_for("account.page"),
        )
    )
    session[SIGN_IN_KEY] = started.sign_in_id
    return redirect(started.redirect_url, 303)


# Requests that leave a waiting identity's offer in place: its page, the language menu on
# it, the page's stylesheet; 404s (endpoint None) do nothing either.
KEEPS_THE_WAITING_IDENTITY = {"account.confirm_connection", "languages.choose", "static", None}
DECISIONS = {"connect", "discard"}


@bp.before_app_request
def discard_a_waiting_identity_left_unconfirmed() -> None:
    """The waiting identity offered after a sign-in is confirmed on its page or never: any
    other page this browser asks for (another sign-in included) discards it."""
    if request.endpoint in KEEPS_THE_WAITING_IDENTITY or CONFIRM_CONNECT_KEY not in session:
        return
    waiting = session.pop(CONFIRM_CONNECT_KEY)
    waiting_identity_id = waiting.get("link") if isinstance(waiting, dict) else None
    token = current_user.get_id() if current_user.is_authenticated else None
    container().sign_in_service().discard_waiting_identity(
        waiting_identity_id, token, "not confirmed"
    )


@bp.route("/connect/confirm", methods=["GET", "POST"])
def confirm_connection() -> ResponseReturnValue:
    """GET asks the person just signed in whether to connect the login that waited in this
    browser for their account; POST connects it ("connect") or discards it ("discard")."""
    waiting = session.get(CONFIRM_CONNECT_KEY)
    if not isinstance(waiting, dict):
        waiting = {}
    try:
        if request.method == "GET":
            if not waiting or not current_user.is_authenticated:
                raise NothingToConnect()
            return render_template(
                "confirm_connection.html",
                title=_("Connect an identity"),
                waiting=waiting,
                identity=readable_subject(
                    waiting.get("namespace", ""),
                    waiting.get("subject", ""),
                    waiting.get("handle"),
                    waiting.get("provider_key", ""),
                ),
            )
        decision = request.form.get("decision")
        if decision not in DECISIONS:
            raise InvalidInput("Choose whether to connect this identity.")
        session.pop(CONFIRM_CONNECT_KEY, None)
        sign_in = container().sign_in_service()
        token = current_user.get_id() if current_user.is_authenticated else None
        if decision == "discard":
            name = sign_in.discard_waiting_identity(waiting.get("link"), token, "declined")
            if name:
                flash(_("Your %(provider)s identity was not connected.", provider=name), "info")
            else:
                flash(_("Nothing was connected."), "info")
        else:
            name = sign_in.connect_waiting_identity(waiting.get("link"), token)
            flash(_("Connected your %(provider)s identity to this account.", provider=name), "info")
    except DomainError as error:
        page = render_template(
            "error.html", title=_("Nothing connected"), message=error_message(error)
        )
        return page, status_of(error)
    return redirect(waiting.get("next") or url_for("pages.index"), 303)


@account_action("/nickname")
def rename() -> str:
    nickname = container().accounts().rename(current_user.id, request.form.get("nickname", ""))
    return _("Your nickname is now %(nickname)s.", nickname=nickname)


@account_action("/disconnect")
def disconnect() -> str:
    form = request.form
    name = (
        container()
        .accounts()
        .disconnect(current_user.get_id(), form.get("namespace", ""), form.get("subject", ""))
    )
    return _("Disconnected your %(provider)s identity.", provider=name)


@account_action("/devices/end")
def end_device() -> str:
    container().accounts().end_device(current_user.id, request.form.get("device", ""))
    return _("That device is signed out.")


@account_action("/devices/end-others")
def end_other_devices() -> str:
    ended = container().accounts().end_other_devices(current_user.id, current_user.get_id())
    return ngettext(
        "Signed out everywhere else (%(num)d session ended).",
        "Signed out everywhere else (%(num)d sessions ended).",
        ended,
    )
