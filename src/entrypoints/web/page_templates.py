"""Templates whose constant texts are translated once, when they are compiled, not at every
render: one set of compiled templates per language.

`{{ _("Home") }}` costs a call through Jinja's context, a catalog lookup and a formatting on
every page; its text depends only on the page's language. The environment keeps, per
language, a Jinja overlay (its own cache of compiled templates) whose `ConstantTexts`
extension replaces such a call, while the template is compiled, by what the call would give:
the text from the page's catalog, formatted as the templates' gettext formats it
(`i18n.page_texts`). A call with variables, or used in an expression, stays a call."""

from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from babel.support import NullTranslations
from flask import has_request_context
from flask.templating import Environment
from flask_babel import get_locale, get_translations
from jinja2 import Template
from jinja2.ext import Extension
from jinja2.lexer import (
    TOKEN_DATA,
    TOKEN_LPAREN,
    TOKEN_NAME,
    TOKEN_RPAREN,
    TOKEN_STRING,
    TOKEN_VARIABLE_BEGIN,
    TOKEN_VARIABLE_END,
    Token,
    TokenStream,
)

# `{{ _("text") }}`, token by token; the string's value is what is translated.
CONSTANT_TEXT = (
    (TOKEN_VARIABLE_BEGIN, None),
    (TOKEN_NAME, "_"),
    (TOKEN_LPAREN, None),
    (TOKEN_STRING, None),
    (TOKEN_RPAREN, None),
    (TOKEN_VARIABLE_END, None),
)


class ConstantTexts(Extension):
    """Turns `{{ _("a constant text") }}` into that text, translated by the environment's
    `page_catalog`, as template data (written as it is: the templates' gettext gives
    trusted markup too)."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        catalog: NullTranslations = self.environment.page_catalog  # type: ignore[attr-defined]
        held: list[Token] = []
        for token in stream:
            if not held and token.type != TOKEN_VARIABLE_BEGIN:
                yield token
                continue
            held.append(token)
            if not _may_become(held):
                yield from held
                held = []
            elif len(held) == len(CONSTANT_TEXT):
                yield from _translated(held, catalog)
                held = []
        yield from held


def _may_become(held: list[Token]) -> bool:
    """Whether the tokens held so far begin a constant text's call."""
    return all(
        token.type == kind and (value is None or token.value == value)
        for token, (kind, value) in zip(held, CONSTANT_TEXT, strict=False)
    )


def _translated(held: list[Token], catalog: NullTranslations) -> Iterable[Token]:
    text = held[3].value
    try:
        translated = catalog.ugettext(text) % {}
    except (KeyError, TypeError, ValueError):  # a text that needs its variables
        return held
    return [Token(held[0].lineno, TOKEN_DATA, translated)]


class PageTemplates(Environment):
    """Flask's template environment, which hands out a page's templates compiled in the
    page's language (see the module's docstring). Outside a request, the templates are
    the plain ones, translated at every render."""

    page_language: str | None = None
    page_catalog: NullTranslations | None = None

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self._languages: MutableMapping[str, Environment] = {}

    def get_template(self, name: Any, parent: Any = None, globals: Any = None) -> Template:
        if self.page_language is None and has_request_context():
            language = self._language(str(get_locale()))
            return language.get_template(name, parent, globals)
        return super().get_template(name, parent, globals)

    def _language(self, locale: str) -> Environment:
        """This language's overlay, made on its first page: in that page's request, so that
        its catalog is the one Flask-Babel gives the page."""
        try:
            return self._languages[locale]
        except KeyError:
            overlay = self.overlay(extensions=[ConstantTexts])
            overlay.page_language = locale
            overlay.page_catalog = get_translations()
            return self._languages.setdefault(locale, overlay)
