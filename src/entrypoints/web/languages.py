"""The language menu on every page: a small POST form. Like the Logout button it is checked
by where the browser says it comes from, or else by its CSRF token: a page that made no
session (a stranger's 404) carries no token, so as not to give them a session cookie."""

from datetime import timedelta

from flask import Blueprint, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from domain.inputs import safe_next_path
from entrypoints.web.csrf_tokens import csrf, same_origin_or_csrf_token
from entrypoints.web.deps import container
from entrypoints.web.i18n import LANGUAGE_COOKIE_DAYS, LANGUAGES, language_cookie_name

bp = Blueprint("languages", __name__)


@bp.post("/language")
@csrf.exempt
@same_origin_or_csrf_token
def choose() -> ResponseReturnValue:
    chosen = request.form.get("language", "")
    back = safe_next_path(request.form.get("next")) or url_for("pages.index")
    response = redirect(back, 303)
    if chosen not in LANGUAGES:
        return response
    if current_user.is_authenticated:
        container().accounts().choose_language(current_user.id, chosen)
    https = bool(current_app.config.get("MICROBLOG_HTTPS"))
    response.set_cookie(
        language_cookie_name(current_app),
        chosen,
        max_age=timedelta(days=LANGUAGE_COOKIE_DAYS),
        secure=https,
        httponly=True,
        samesite="Lax",
    )
    return response
