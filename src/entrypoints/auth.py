from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length

from domain.errors import UnknownProvider
from domain.inputs import MAX_IDENTIFIER_LENGTH, MAX_NEXT_LENGTH
from domain.use_cases import begin_login, finish_login, log_out, log_out_everywhere
from entrypoints.deps import container
from entrypoints.login_user import LoginUser

bp = Blueprint("auth", __name__)

TRANSACTION_KEY = "login_transaction"


class LoginForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False  # CSRFProtect has checked every POST before any view runs

    identifier = StringField("OpenID", validators=[Length(max=MAX_IDENTIFIER_LENGTH)])
    # Set by the button pressed: one per configured provider.
    provider = StringField(validators=[DataRequired("Choose a provider.")])
    remember_me = BooleanField("Remember me", default=False)
    next = HiddenField(validators=[Length(max=MAX_NEXT_LENGTH)])


def login_page(form: LoginForm, status: int = 200) -> ResponseReturnValue:
    buttons = container().provider_buttons()
    page = render_template(
        "login.html",
        title="Sign In",
        form=form,
        buttons=buttons,
        max_identifier_length=MAX_IDENTIFIER_LENGTH,
    )
    return page, status


def return_to_url() -> str:
    # From configuration, not from the Host header a client sends.
    return f"{container().config.base_url()}/login/return"


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("pages.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return login_page(form, 400 if form.errors else 200)
    services = container()
    provider = services.identity_providers().get(form.provider.data)
    if provider is None:
        raise UnknownProvider()
    started = begin_login(
        provider,
        form.identifier.data,
        next_url=form.next.data,
        remember=form.remember_me.data,
        return_to=return_to_url(),
        transactions=services.login_transactions(),
        clock=services.clock(),
        tokens=services.tokens(),
    )
    session[TRANSACTION_KEY] = started.transaction_id
    return redirect(started.redirect_url, 303)


@bp.get("/login/return")
def openid_return() -> ResponseReturnValue:
    services = container()
    policy = services.session_policy()
    signed_in = finish_login(
        session.pop(TRANSACTION_KEY, None),
        request.args.to_dict(),
        return_to=return_to_url(),
        providers=services.identity_providers(),
        transactions=services.login_transactions(),
        uow=services.writing_unit_of_work(),
        sessions=services.login_sessions(),
        clock=services.clock(),
        tokens=services.tokens(),
        policy=policy,
    )
    session.clear()  # nothing from before the login carries over into the signed-in session
    login_user(
        LoginUser(signed_in.user, signed_in.token),
        remember=signed_in.session.remember,
        duration=policy.remembered_lifetime,
    )
    return redirect(signed_in.next_url or url_for("pages.index"))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        log_out(current_user.get_id(), sessions=container().login_sessions())
    _forget_browser()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere() -> ResponseReturnValue:
    ended = log_out_everywhere(current_user.id, sessions=container().login_sessions())
    _forget_browser()
    flash(f"You have been logged out everywhere ({ended} sessions ended).", "info")
    return redirect(url_for("auth.login"))


def _forget_browser() -> None:
    session.clear()
    logout_user()  # after clear: it leaves the note that deletes the remember-me cookie
