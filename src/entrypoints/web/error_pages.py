import logging
from typing import Any

from flask import Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from domain.errors import (
    DomainError,
    InvalidInput,
    ProviderUnavailable,
    RecentSignInRequired,
    SignInCancelled,
    SignInFailed,
    SignInRefused,
    StoreUnavailable,
)
from entrypoints.web.auth import LoginFields, login_page, logout_notice_answer
from entrypoints.web.browser import BACKCHANNEL_PATH
from entrypoints.web.error_messages import error_message
from entrypoints.web.i18n import _

log = logging.getLogger(__name__)

# Checked in order: the first class the error is an instance of gives its status.
STATUS_OF_ERROR: list[tuple[type[DomainError], int]] = [
    (InvalidInput, 400),
    (SignInCancelled, 400),
    (SignInFailed, 400),
    (SignInRefused, 403),
    (ProviderUnavailable, 502),
    (StoreUnavailable, 503),
]
# A logout refused for its expired form offers a fresh button: never signed in unawares.
LOGOUT_BUTTONS = {
    "auth.logout": _l("Logout"),
    "auth.logout_everywhere": _l("Log out on every device"),
}
# Each status's page: its title and what it tells the person.
HTTP_ERROR_PAGES = {
    400: (_l("Bad request"), _l("This request could not be understood. Please try again.")),
    403: (_l("Forbidden"), _l("You may not see this page.")),
    404: (_l("Not found"), _l("There is no page here.")),
    405: (_l("Method not allowed"), _l("This page cannot be used this way.")),
    413: (_l("Request too large"), _l("What was sent is too large for this site.")),
    429: (
        _l("Too many requests"),
        _l("Too many attempts from here. Please wait a little and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("Something went wrong on our side. It has been logged; please try again."),
    ),
    503: (
        _l("Service unavailable"),
        _l("The site is not available just now. Please try again in a moment."),
    ),
}
OTHER_ERROR_PAGE = (_l("Something went wrong"), _l("This request could not be handled."))


def status_of(error: DomainError) -> int:
    return next((status for kind, status in STATUS_OF_ERROR if isinstance(error, kind)), 500)


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(RecentSignInRequired, sign_in_again)
    app.register_error_handler(DomainError, domain_error_page)
    app.register_error_handler(CSRFError, csrf_error_page)
    app.register_error_handler(HTTPException, http_error_page)
    app.context_processor(navigation)


def domain_error_page(error: DomainError) -> ResponseReturnValue:
    status = status_of(error)
    log.log(logging.WARNING if status >= 500 else logging.INFO, "%s: %r", status, error)
    flash(error_message(error), "error")
    return login_page(LoginFields.sent(), status)


def sign_in_again(error: RecentSignInRequired) -> ResponseReturnValue:
    flash(error_message(error), "info")
    return redirect(url_for("auth.login", again=1, next=url_for("account.page")), 303)


def csrf_error_page(error: CSRFError) -> ResponseReturnValue:
    button = LOGOUT_BUTTONS.get(request.endpoint or "")
    if button is not None and navigation()["signed_in"]:
        page = render_template(
            "logout_expired.html",
            title=_("This form has expired"),
            endpoint=request.endpoint,
            button=button,
        )
        return page, 400
    message = _("This form has expired or did not come from this site. Please try again.")
    return render_template("error.html", title=_("Bad request"), message=message), 400


def http_error_page(error: HTTPException) -> ResponseReturnValue:
    if request.path.startswith(BACKCHANNEL_PATH):
        # A provider's server, not a person: JSON, as every answer there (a limit, a size).
        refusal = error.description or error.name
        answer = logout_notice_answer(error.code or 400, refusal)
        answer.headers.extend(_kept_headers(error))
        return answer
    title, message = HTTP_ERROR_PAGES.get(error.code or 500, OTHER_ERROR_PAGE)
    page = render_template("error.html", title=title, message=message)
    return page, error.code or 500, _kept_headers(error)


def _kept_headers(error: HTTPException) -> dict[str, str]:
    # Allow (405), Retry-After (429/503)...: what the status needs, not its plain-text type.
    return {k: v for k, v in error.get_headers() if k.lower() != "content-type"}


def navigation() -> dict[str, Any]:
    """The signed-in user for templates; while the database is down, pages render signed out."""
    try:
        user = current_user._get_current_object()
        signed_in = bool(user.is_authenticated)
    except DomainError:
        user, signed_in = AnonymousUserMixin(), False
    return {"current_user": user, "signed_in": signed_in}
