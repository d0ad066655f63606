# ruff: noqa: F401, F811 -- the browser fixtures of test_browser.py are imported by name
"""Each shipped language in Chromium: from Accept-Language, and from the language menu."""

import re
from pathlib import Path

import pytest
from babel.support import Translations

from tests.e2e.test_browser import (
    approve_at_dev_openid,
    chromium,
    database_url,
    oidc_site,
    playwright_api,
)

TRANSLATIONS = Path(__file__).resolve().parents[2] / "src/entrypoints/web/translations"
# What a browser of each language sends, and the <html lang> the site answers with.
BROWSERS = {
    "zh_Hans": ("zh-CN,zh;q=0.9", "zh-Hans"),
    "es": ("es-ES,es;q=0.9", "es"),
    "de": ("de-DE,de;q=0.9", "de"),
    "fr": ("fr-FR,fr;q=0.9", "fr"),
    "ja": ("ja-JP,ja;q=0.9", "ja"),
}


def texts_of(locale: str):
    """The site's texts in a language, from its compiled catalog."""
    catalog = Translations.load(TRANSLATIONS, [locale])
    assert isinstance(catalog, Translations), f"no compiled catalog for {locale}"
    return lambda text, **values: catalog.gettext(text) % values


@pytest.fixture
def browser_in(chromium):
    contexts = []

    def open_page(accept_language: str):
        context = chromium.new_context(extra_http_headers={"Accept-Language": accept_language})
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in_at_dev_oidc(page, t, issuer, name):
    page.get_by_role("button", name=t("Sign in with %(provider)s", provider="Dev OIDC")).click()
    playwright_api.expect(page).to_have_url(re.compile(re.escape(f"{issuer}/interaction/")))
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Approve").click()


@pytest.mark.parametrize("locale", sorted(BROWSERS))
def test_a_browser_in_another_language_gets_every_page_in_it(oidc_site, browser_in, locale):
    url, issuer = oidc_site
    expect, t = playwright_api.expect, texts_of(locale)
    accept_language, tag = BROWSERS[locale]
    page = browser_in(accept_language)
    html = page.locator("html")

    page.goto(f"{url}/")
    expect(html).to_have_attribute("lang", tag)
    expect(page.get_by_role("heading", name=t("Sign In"))).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(t("Please log in to access this page."))
    if locale == "zh_Hans":
        expect(page.get_by_role("heading", name="登录")).to_be_visible()

    # The provider refuses: the site says so in this language.
    page.get_by_role("button", name=t("Sign in with %(provider)s", provider="Dev OIDC")).click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert")).to_have_text(t("Sign-in was cancelled."))
    expect(html).to_have_attribute("lang", tag)
    if locale == "zh_Hans":
        expect(page.get_by_role("alert")).to_have_text("登录已取消。")

    sign_in_at_dev_oidc(page, t, issuer, "mei")
    expect(page.get_by_role("heading", name=t("Hi, %(nickname)s!", nickname="mei"))).to_be_visible()
    expect(html).to_have_attribute("lang", tag)

    page.get_by_role("link", name=t("Account")).click()
    expect(page.get_by_role("heading", name=t("Your account"))).to_be_visible()
    expect(page.get_by_role("columnheader", name=t("Last used"))).to_be_visible()
    expect(page.get_by_text(t("this device"))).to_be_visible()
    expect(html).to_have_attribute("lang", tag)
    if locale == "zh_Hans":
        expect(page.get_by_role("heading", name="你的账户")).to_be_visible()


def test_the_language_menu_switches_to_spanish_and_it_sticks_after_sign_in(
    oidc_site,
    browser_in,
    op,
):
    url, _ = oidc_site
    expect, es = playwright_api.expect, texts_of("es")
    page = browser_in("en-US,en;q=0.9")
    html = page.locator("html")
    page.goto(f"{url}/login")
    expect(html).to_have_attribute("lang", "en")

    page.get_by_label("Language").select_option(label="Español")
    page.get_by_role("button", name="Change").click()
    expect(page).to_have_url(f"{url}/login")
    expect(html).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()

    page.goto(f"{url}/nowhere")
    expect(page.get_by_role("heading", name=es("Not found"))).to_be_visible()

    page.goto(f"{url}/login")
    page.get_by_role("button", name="Iniciar sesión con Dev OpenID").click()
    page.get_by_label("Name").fill("lola")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="¡Hola, lola!")).to_be_visible()
    expect(html).to_have_attribute("lang", "es")
    page.get_by_role("link", name="Cuenta").click()
    expect(page.get_by_role("heading", name="Tu cuenta")).to_be_visible()
    page.get_by_role("button", name="Cerrar sesión").first.click()
    expect(page.get_by_role("status")).to_have_text("Has cerrado sesión.")
