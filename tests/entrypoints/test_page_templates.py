"""Templates compiled per language (`page_templates`) write what the templates' gettext would
write at every render: for any text and translation, and on the site's pages in every
language."""

import re

import pytest
from flask.templating import Environment
from hypothesis import assume, given
from hypothesis import strategies as st
from jinja2 import Environment as JinjaEnvironment
from markupsafe import Markup

import entrypoints.app
from adapters.sql.migrate import upgrade_database
from entrypoints.web.i18n import LANGUAGES
from entrypoints.web.page_templates import ConstantTexts
from tests.entrypoints.conftest import log_in, make_app


class Catalog:
    """A catalog that translates every text to `translate(text)`."""

    def __init__(self, translate):
        self.translate = translate

    def ugettext(self, text):
        return self.translate(text)


def rendered(source, catalog, compiled_in):
    """`source` rendered with its constant texts translated when compiled (`compiled_in`) or
    by a gettext like the templates' at every render."""
    environment = JinjaEnvironment(
        autoescape=True, extensions=[ConstantTexts] if compiled_in else []
    )
    environment.page_catalog = catalog
    environment.globals["_"] = lambda text, **variables: Markup(catalog.ugettext(text)) % variables
    return environment.from_string(source).render(name="<Zoë>")


TEMPLATES = [
    '<a href="/">{{ _("Home") }}</a>',
    '<nav aria-label="{{ _(\'Site\') }}">{{- _("Skip") -}} </nav>',
    "{{ _('100%% sure') }} {{ _(\"Hi, %(name)s!\", name=name) }} {{ _('Home')|upper }}",
    "{% if true %}{{ _('Home') }}{% endif %}{{ _('Home') ~ '!' }}{{ name }}",
]


@pytest.mark.parametrize("source", TEMPLATES)
def test_a_templates_constant_texts_read_the_same_translated_once_or_every_time(source):
    catalog = Catalog(lambda text: f"«{text}» & <b>ß</b>")
    assert rendered(source, catalog, True) == rendered(source, catalog, False)


def test_a_constant_text_is_translated_when_compiled_and_nothing_else_is():
    environment = JinjaEnvironment(autoescape=True, extensions=[ConstantTexts])
    environment.page_catalog = Catalog(str.upper)
    code = environment.compile("{{ _('home') }}{{ _('hi %(n)s', n=1) }}", raw=True)
    assert "HOME" in code and "'hi %(n)s'" in code


texts = st.text(st.sampled_from("aé漢 %<&>\"'\\(s)"), max_size=20)


@given(text=texts, translation=texts)
def test_any_text_and_translation_read_the_same_translated_once_or_every_time(text, translation):
    catalog = Catalog(lambda _: translation)
    try:
        translation % {}
    except (KeyError, TypeError, ValueError):
        assume(False)  # such a text needs its variables: it is never a constant
    source = f"<p title={{{{ _({text!r}) }}}}>{{{{ _({text!r}) }}}}</p>"
    assert rendered(source, catalog, True) == rendered(source, catalog, False)


TOKENS = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+')


def pages(tmp_path, language):
    """The login page (also as sent there by a protected page), a missing page, and the
    signed-in index page, in `language`, with their CSRF tokens blanked."""
    app = make_app(tmp_path)
    upgrade_database(app.extensions["container"].engine())
    client = app.test_client()
    client.set_cookie("language", language)
    bodies = [client.get(path).get_data(as_text=True) for path in ("/login?next=/x", "/nowhere")]
    log_in(client, nickname="alice")
    bodies.append(client.get("/index").get_data(as_text=True))
    return [TOKENS.sub(r"\1-", body) for body in bodies]


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_sites_pages_read_the_same_with_texts_translated_once(tmp_path, monkeypatch, language):
    translated_once = pages(tmp_path / "once", language)
    monkeypatch.setattr(entrypoints.app, "PageTemplates", Environment)
    every_time = pages(tmp_path / "every-time", language)
    assert translated_once == every_time
    assert all(LANGUAGES[language].tag in body for body in every_time)
