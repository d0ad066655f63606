import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from babel.support import NullTranslations
from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length

from domain.errors import DomainError
from domain.inputs import MAX_IDENTIFIER_LENGTH, MAX_NEXT_LENGTH
from domain.provisioning import Connected, IdentityWaits
from domain.round_trips import Parked
from domain.sign_in import Browser
from domain.sign_out import KeptSignOut
from entrypoints.web.browser import (
    BACKCHANNEL_PATH,
    LOGOUT_RETURN_PATH,
    RETURN_PATH,
    request_origin,
)
from entrypoints.web.csrf_tokens import csrf, csrf_token, same_origin_or_csrf_token
from entrypoints.web.deps import container
from entrypoints.web.i18n import _, form_messages, ngettext
from entrypoints.web.login_user import SessionUser

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

SIGN_IN_KEY = "login_transaction"
WAITING_IDENTITY_KEY = "pending_link"
PENDING_LINK_MESSAGE = _l(
    "An account already uses this email. Sign in with one of its linked identities to connect"
    " this one."
)
# After the sign-in that a waiting login waited for: what to ask the person to confirm, for
# the confirm page (account.confirm_connection) only; any other page discards it.
CONFIRM_CONNECT_KEY = "confirm_connect"
LOG_IN_TO_SEE_IT = _l("Please log in to access this page.")
# The query parameter that brings a browser back to the answer parked for it (see below).
PARKED_PARAMETER = "parked_callback"
# What a browser keeps while it signs out at its provider: that provider and the state.
SIGN_OUT_KEY = "sign_out_at_provider"
SIGNED_OUT_AT_PROVIDER = _l("You are signed out.")


class LoginForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False  # CSRFProtect has checked every POST before any view runs

        def get_translations(self, form: FlaskForm) -> NullTranslations:
            return form_messages()

    identifier = StringField("Identifier", validators=[Length(max=MAX_IDENTIFIER_LENGTH)])
    # Set by the button pressed: one per configured provider.
    provider = StringField(validators=[DataRequired(_l("Choose a provider."))])
    remember_me = BooleanField("Remember me", default=False)
    next = HiddenField(validators=[Length(max=MAX_NEXT_LENGTH)])


@dataclass(frozen=True)
class LoginFields:
    """What the login page's form shows: the values sent with it, and what was wrong with them.
    A page asked for by GET shows an empty form, so it builds no WTForms form at all."""

    next: str = ""
    identifier: str = ""
    remember_me: bool = False
    identifier_errors: Sequence[str] = ()
    provider_errors: Sequence[str] = ()

    @classmethod
    def of(cls, form: LoginForm) -> "LoginFields":
        return cls(
            next=form.next.data or "",
            identifier=form.identifier.data or "",
            remember_me=bool(form.remember_me.data),
            identifier_errors=[str(error) for error in form.identifier.errors],
            provider_errors=[str(error) for error in form.provider.errors],
        )

    @classmethod
    def sent(cls) -> "LoginFields":
        """The fields as this request sent them (a login that failed shows its identifier
        again), or empty ones for a page asked for by GET."""
        return cls.of(LoginForm()) if request.method == "POST" else cls()


def login_page(
    fields: LoginFields | None = None,
    status: int = 200,
    notices: list[tuple[str, str]] | None = None,
) -> ResponseReturnValue:
    page = render_template(
        "login.html",
        title=_("Sign In"),
        fields=fields or LoginFields(),
        buttons=container().round_trips().choices(),
        max_identifier_length=MAX_IDENTIFIER_LENGTH,
        notices=notices,
    )
    return page, status


def _sent_here_from_a_page() -> bool:
    """A protected page sent the browser here (Flask-Login adds `next`), not "sign in again"."""
    return (
        request.method == "GET" and bool(request.args.get("next")) and not request.args.get("again")
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    # A signed-in person comes here only when asked to prove it again ("again").
    if current_user.is_authenticated and not request.values.get("again"):
        return redirect(url_for("pages.index"))
    if request.method != "POST":
        notices = [("info", str(LOG_IN_TO_SEE_IT))] if _sent_here_from_a_page() else None
        return login_page(LoginFields(next=request.args.get("next", "")), notices=notices)
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate():
        return login_page(LoginFields.of(form), 400)
    started = (
        container()
        .round_trips()
        .begin(
            form.provider.data,
            identifier=form.identifier.data or None,
            next_url=form.next.data,
            remember=form.remember_me.data,
        )
    )
    session[SIGN_IN_KEY] = started.sign_in_id
    return redirect(started.redirect_url, 303)


@bp.route(f"{RETURN_PATH}<key>", methods=["GET", "POST"])
def provider_return(key: str) -> ResponseReturnValue:
    if request.method == "POST":
        # A cross-site POST comes without this browser's SameSite=Lax cookies, so its login
        # cannot be found yet: keep the answer, and come back for it by a same-site GET.
        answer = request.args.to_dict() | request.form.to_dict()
        handle = container().round_trips().park(key, answer)
        return redirect(url_for("auth.provider_return", key=key, parked_callback=handle), 303)
    parked = request.args.get(PARKED_PARAMETER)
    browser = Browser(
        session.pop(SIGN_IN_KEY, None),
        waiting_identity_id=session.get(WAITING_IDENTITY_KEY),
        session_token=current_user.get_id() if current_user.is_authenticated else None,
        device=request_origin(),
    )
    result = (
        container()
        .sign_in_service()
        .finish(key, browser, Parked(parked) if parked is not None else request.args.to_dict())
    )
    if isinstance(result, Connected):
        if result.added:
            done = _("Connected your %(provider)s identity.", provider=result.provider_name)
        else:
            done = _(
                "This account already had your %(provider)s identity.",
                provider=result.provider_name,
            )
        flash(done, "info")
        return redirect(url_for("account.page"))
    if isinstance(result, IdentityWaits):
        session[WAITING_IDENTITY_KEY] = result.waiting_identity_id
        flash(str(PENDING_LINK_MESSAGE), "info")
        return login_page()
    session.clear()  # nothing from before the login carries over into the signed-in session
    login_user(
        SessionUser(result.user, result.token),
        remember=result.session.remember,
        duration=container().session_policy().remembered_lifetime,
    )
    csrf_token()  # the new session's CSRF secret goes out now: its first page keeps the cookie
    if result.waiting is not None:
        waiting = result.waiting
        session[CONFIRM_CONNECT_KEY] = {
            "link": waiting.waiting_identity_id,
            "provider": waiting.provider_name,
            "provider_key": waiting.provider,
            "namespace": waiting.namespace,
            "subject": waiting.subject,
            "handle": waiting.handle,
            "next": result.next_url or "",
        }
        return redirect(url_for("account.confirm_connection"))
    return redirect(result.next_url or url_for("pages.index"))


# A Logout button must work on a page older than its CSRF token (an hour): a same-origin
# request needs no token; any other gets, if its token has expired, a fresh button.
@bp.post("/logout")
@csrf.exempt
@same_origin_or_csrf_token
def logout() -> ResponseReturnValue:
    token = current_user.get_id() if current_user.is_authenticated else None
    signed_out = container().sign_out_service().log_out(token)
    _forget_browser()
    if signed_out.provider_url:
        # On to the provider, to end the sign-in there too; its way back shows the state.
        session[SIGN_OUT_KEY] = {"provider": signed_out.provider, "state": signed_out.state}
        return redirect(signed_out.provider_url, 303)
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.get(f"{LOGOUT_RETURN_PATH}<key>")
def logout_return(key: str) -> ResponseReturnValue:
    """Back from signing out at the provider: the login page, saying so only when the
    browser brings the state it was sent with (once: any arrival uses it up)."""
    kept = _kept_sign_out(session.pop(SIGN_OUT_KEY, None))
    state = request.args.get("state")
    came_back = container().sign_out_service().came_back(key, kept, state)
    notices = [("info", SIGNED_OUT_AT_PROVIDER)] if came_back else None
    return login_page(notices=notices)


def _kept_sign_out(kept: Any) -> KeptSignOut | None:
    if not isinstance(kept, dict):
        return None
    provider, state = kept.get("provider"), kept.get("state")
    if not isinstance(provider, str) or not isinstance(state, str):
        return None
    return KeptSignOut(provider, state)


# A provider's server posts here when a person's sign-in there ended (OpenID Connect
# Back-Channel Logout 1.0): no browser, so no CSRF token; the signed logout token instead.
@bp.post(f"{BACKCHANNEL_PATH}<key>")
@csrf.exempt
def backchannel_logout(key: str) -> ResponseReturnValue:
    notice = {"logout_token": request.form.get("logout_token", "")}
    try:
        container().sign_out_service().end_sessions_from_provider(key, notice)
    except DomainError as refused:
        log.info("Logout notice for provider %.64r refused: %s", key, refused.message)
        return logout_notice_answer(400, refused.message)
    return logout_notice_answer(200)


def logout_notice_answer(status: int, refusal: str | None = None) -> Response:
    """What a provider's server gets back (Back-Channel Logout 1.0, section 2.8)."""
    body = {} if refusal is None else {"error": "invalid_request", "error_description": refusal}
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/logout/everywhere")
@csrf.exempt
@same_origin_or_csrf_token
@login_required
def logout_everywhere() -> ResponseReturnValue:
    ended = container().session_service().log_out_everywhere(current_user.id)
    _forget_browser()
    flash(
        ngettext(
            "You have been logged out everywhere (%(num)d session ended).",
            "You have been logged out everywhere (%(num)d sessions ended).",
            ended,
        ),
        "info",
    )
    return redirect(url_for("auth.login"))


def _forget_browser() -> None:
    session.clear()
    logout_user()  # after clear: it leaves the note that deletes the remember-me cookie
