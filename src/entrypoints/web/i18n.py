"""The language of every page: the one chosen in the language menu (kept in a cookie, and on
the account of a signed-in person), else the best match of the browser's Accept-Language,
else English. Texts are marked for Flask-Babel; catalogs live in web/translations."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError, support
from babel.core import get_global
from babel.dates import format_date, format_time
from flask import Flask, current_app, request, session, url_for
from flask_babel import Babel, get_locale, get_timezone, get_translations, gettext
from flask_babel import ngettext as babel_ngettext
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from wtforms.i18n import messages_path

from domain.errors import DomainError
from entrypoints.web.csrf_tokens import csrf_token


@dataclass(frozen=True)
class Language:
    locale: str  # Babel's identifier: the catalog's folder name
    tag: str  # BCP 47, for <html lang>
    name: str  # in its own language, for the menu


ENGLISH = "en"
LANGUAGES = {
    language.locale: language
    for language in (
        Language("en", "en", "English"),
        Language("zh_Hans", "zh-Hans", "简体中文"),
        Language("es", "es", "Español"),
        Language("de", "de", "Deutsch"),
        Language("fr", "fr", "Français"),
        Language("ja", "ja", "日本語"),
    )
}
_LOCALES = {key: Locale.parse(key) for key in LANGUAGES}
LANGUAGE_COOKIE = "language"
LANGUAGE_COOKIE_DAYS = 365
# Pages whose address must not travel in a form: a provider's answer carries a one-time code.
ADDRESS_KEPT_PRIVATE = {"auth.provider_return"}
# Where Flask-WTF keeps a session's CSRF secret.
CSRF_SECRET_KEY = "csrf_token"


def _(text: str, **variables: Any) -> str:
    """Flask-Babel's gettext, typed: a text in this request's language."""
    return str(gettext(text, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """Flask-Babel's ngettext, typed: `%(num)d` in the texts is the number."""
    return str(babel_ngettext(singular, plural, num, **variables))


@lru_cache(maxsize=256)  # browsers send a few headers over and over; any other costs a parse
def best_match(accept_language: str | None) -> str | None:
    """The shipped locale that best fits an Accept-Language header, or None.

    Ranges are tried by the browser's preference; one fits a locale of its language whose
    script it is written in ("zh-CN", "zh-SG" and "zh" are Simplified Chinese; "zh-TW" is not).
    """
    accepted = parse_accept_header(accept_language, LanguageAccept)
    for tag, quality in accepted:
        if quality > 0:
            found = _shipped(tag)
            if found is not None:
                return found
    return None


@lru_cache(maxsize=256)  # browsers send a few tags over and over; any other costs a parse
def _shipped(tag: str) -> str | None:
    try:
        wanted = Locale.parse(tag.replace("_", "-"), sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    script = wanted.script or _likely_script(wanted.language)
    for key in LANGUAGES:
        shipped = Locale.parse(key)
        if shipped.language == wanted.language and shipped.script in (None, script):
            return key
    return None


def _likely_script(language: str) -> str | None:
    likely = get_global("likely_subtags").get(language)
    return Locale.parse(likely).script if likely else None


def language_cookie_name(app: Flask) -> str:
    return f"__Host-{LANGUAGE_COOKIE}" if app.config.get("MICROBLOG_HTTPS") else LANGUAGE_COOKIE


def chosen_language() -> Locale:
    """Flask-Babel's locale selector (see the module's docstring for the order), as a Locale
    made once per language: Flask-Babel would parse its name on every request."""
    return _LOCALES[_chosen_key()]


def _chosen_key() -> str:
    kept = request.cookies.get(language_cookie_name(current_app))
    if kept in LANGUAGES:
        return kept
    on_account = _account_language()
    if on_account in LANGUAGES:
        return on_account
    return best_match(request.headers.get("Accept-Language")) or ENGLISH


def _account_language() -> str | None:
    try:
        if current_user.is_authenticated:
            return current_user.language  # type: ignore[no-any-return]
    except DomainError:  # the database is down: the page still renders
        pass
    return None


def current_language() -> Language:
    return LANGUAGES.get(str(get_locale()), LANGUAGES[ENGLISH])


def when(moment: datetime | None) -> str:
    """A date and time in the reader's language, the time zone named."""
    if moment is None:
        return ""
    locale, zone = get_locale() or Locale.parse(ENGLISH), get_timezone()
    there = moment.astimezone(zone)
    time = format_time(there, f"{locale.time_formats['short'].pattern} z", locale=locale)
    date = format_date(there, "medium", locale=locale)
    return str(locale.datetime_formats["medium"].format(time, date))


def back_here() -> str:
    """Where the language menu brings the person back to: this page, asked for anew."""
    if request.endpoint in ADDRESS_KEPT_PRIVATE:
        return url_for("auth.login")
    if request.method != "GET":
        return request.path
    return request.full_path.rstrip("?")


def menu_csrf_token() -> str | None:
    """The menu's CSRF token when this browser has a session already; none otherwise."""
    return csrf_token() if CSRF_SECRET_KEY in session else None


def menu_languages() -> Iterable[Language]:
    return LANGUAGES.values()


def page_texts() -> dict[str, Any]:
    """The templates' `gettext` and `ngettext`, bound to this page's catalog once: Flask-Babel's
    own find the catalog again for every text. Formatted as Jinja's newstyle gettext does:
    the text is escaped markup when the template autoescapes, its variables escaped into it."""
    catalog = get_translations()

    @pass_context
    def page_gettext(context: Context, text: str, /, **variables: Any) -> str:
        return _formatted(context, catalog.ugettext(text), variables)

    @pass_context
    def page_ngettext(
        context: Context, singular: str, plural: str, num: int, /, **variables: Any
    ) -> str:
        variables.setdefault("num", num)
        return _formatted(context, catalog.ungettext(singular, plural, num), variables)

    return {"gettext": page_gettext, "ngettext": page_ngettext}


def _formatted(context: Context, text: str, variables: dict[str, Any]) -> str:
    return (Markup(text) if context.eval_ctx.autoescape else text) % variables


def form_messages() -> support.NullTranslations:
    """WTForms' own messages (a field too long...) in this page's language, for a form's
    `Meta.get_translations`: Flask-WTF reads the catalog from disk on every request."""
    return _wtforms_catalog(str(get_locale() or ENGLISH))


@lru_cache(maxsize=len(LANGUAGES))
def _wtforms_catalog(locale: str) -> support.NullTranslations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def set_up_languages(app: Flask, choose: Callable[[], Locale | str] = chosen_language) -> None:
    """Flask-Babel with the page's language chosen by `choose`, and what templates use."""
    Babel(app, locale_selector=choose)
    app.jinja_env.filters["when"] = when

    @app.context_processor
    def language_of_the_page() -> dict[str, Any]:
        return {
            "language": current_language(),
            "languages": menu_languages(),
            "back_here": back_here,
            "menu_csrf_token": menu_csrf_token,
        }

    app.context_processor(page_texts)
