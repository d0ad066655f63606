# ruff: noqa: F401, F811 -- the browser fixtures of test_browser.py are imported by name
"""Accessibility in Chromium: axe-core (pinned in tests/e2e/axe, installed by `npm ci`) finds
no violation of any impact on any page, in English and Simplified Chinese, and on the main
pages in every other language; a person signs in with the keyboard alone; and screenshots
of the look at a desktop's and a phone's width, light and dark."""

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import abort

from adapters.sql.migrate import upgrade_database
from entrypoints.app import create_app
from tests.e2e.test_browser import (
    ARTIFACTS,
    approve_at_dev_openid,
    chromium,
    database_url,
    oidc_site,
    playwright_api,
)
from tests.servers import serving

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BROWSERS = {"en": "en-US,en;q=0.9", "zh_Hans": "zh-CN,zh;q=0.9", "es": "es-ES", "de": "de-DE"}
BROWSERS |= {"fr": "fr-FR", "ja": "ja-JP"}
# Statuses whose pages are reached through a test-only route here (the others for real).
ABORTED = (403, 413, 500, 503)


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        message = f"axe-core is not installed (run: npm ci --prefix {AXE.parents[2]})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


def axe_violations(page, axe_source: str) -> list[str]:
    """axe.run() with its defaults (best practices included): each violation, one line."""
    page.evaluate(axe_source)  # by the DevTools protocol: the page's CSP does not apply
    results = page.evaluate("async () => await axe.run()")
    assert results["testEngine"]["version"].startswith("4.14")
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']]} {v['help']}"
        for v in results["violations"]
    ]


@contextmanager
def page_in(chromium, language: str, **options):
    context = chromium.new_context(
        extra_http_headers={"Accept-Language": BROWSERS[language]}, **options
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def check(found: dict[str, list[str]], name: str, page, axe_source: str) -> None:
    page.wait_for_load_state()
    violations = axe_violations(page, axe_source)
    if violations:
        found[name] = violations


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_axe_finds_nothing_on_any_page_of_a_sign_in_and_connection(
    oidc_site,
    op,
    chromium,
    axe_source,
    language,
):
    url, _ = oidc_site
    found: dict[str, list[str]] = {}
    with page_in(chromium, language) as page:
        page.goto(f"{url}/login")
        check(found, "login", page, axe_source)
        page.goto(f"{url}/account")
        check(found, "login reached from a protected page", page, axe_source)
        page.goto(f"{url}/login/return/dev-oidc")
        check(found, "login with an error", page, axe_source)
        page.goto(f"{url}/nowhere")
        check(found, "404", page, axe_source)

        page.goto(f"{url}/login")
        page.evaluate("document.getElementById('csrf_token').value = 'forged'")
        page.locator("button[name=provider]").first.click()
        page.wait_for_url(f"{url}/login")
        check(found, "400", page, axe_source)

        page.goto(f"{url}/login")
        page.locator("button[value=dev]").click()
        page.get_by_label("Name").fill("ivy")
        page.get_by_label("Email (optional)").fill("ivy@example.com")
        page.get_by_role("button", name="Approve").click()
        check(found, "index", page, axe_source)
        page.goto(f"{url}/account")
        check(found, "account", page, axe_source)
        page.locator("header form.inline button").click()

        page.locator("button[value=dev-oidc]").click()
        page.get_by_label("Name").fill("ivy-elsewhere")
        page.get_by_label("Email (optional)").fill("ivy@example.com")
        page.get_by_label("Say the email is verified").check()
        page.get_by_role("button", name="Approve").click()
        playwright_api.expect(page.locator(".flashes")).to_be_visible()
        check(found, "waiting login", page, axe_source)

        page.locator("button[value=dev]").click()
        page.get_by_label("Name").fill("ivy")
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url(f"{url}/account/connect/confirm")
        check(found, "confirm", page, axe_source)
    assert found == {}


@pytest.mark.parametrize("language", ["es", "de", "fr", "ja"])
def test_axe_finds_nothing_on_the_main_pages_in_other_languages(
    site,
    chromium,
    axe_source,
    language,
):
    found: dict[str, list[str]] = {}
    with page_in(chromium, language) as page:
        page.goto(f"{site.url}/login")
        check(found, "login", page, axe_source)
        page.locator("button[value=dev]").click()
        page.get_by_label("Name").fill("jo")
        page.get_by_role("button", name="Approve").click()
        check(found, "index", page, axe_source)
        page.goto(f"{site.url}/account")
        check(found, "account", page, axe_source)
    assert found == {}


@pytest.fixture
def site_with_error_pages(site_config):
    """The site, with a tight login limit (a real 429) and a test-only route to the error
    pages that no request of a person's reaches here."""

    def make_app(base_url: str):
        app = create_app(site_config | {"base_url": base_url, "rate_limit_login": "1/minute"})
        upgrade_database(app.extensions["container"].engine())
        app.add_url_rule(
            "/test-only/status/<int:code>", "test_only_status", lambda code: abort(code)
        )
        return app

    with serving(make_app) as url:
        yield url


@pytest.mark.server_error  # the 500 and 503 pages
@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_axe_finds_nothing_on_the_error_pages(
    site_with_error_pages,
    chromium,
    axe_source,
    language,
):
    url = site_with_error_pages
    found: dict[str, list[str]] = {}
    with page_in(chromium, language) as page:
        for code in ABORTED:
            answer = page.goto(f"{url}/test-only/status/{code}")
            assert answer.status == code
            check(found, str(code), page, axe_source)
        page.goto(f"{url}/login")
        page.locator("button[value=openid]").click()  # nothing typed: the first attempt
        playwright_api.expect(page.get_by_role("alert")).to_be_visible()
        page.locator("button[value=openid]").click()  # over the limit of one a minute
        playwright_api.expect(page.locator("main h1")).not_to_have_text(re.compile("Sign In|登录"))
        check(found, "429", page, axe_source)
        text = page.locator("main").inner_text()
        assert ("Too many" in text) if language == "en" else ("过多" in text), text
    assert found == {}


def focus_by_tab(page, selector: str, backwards: bool = False, most: int = 30) -> None:
    """Press Tab (or Shift+Tab) until the element `selector` has the focus."""
    for _ in range(most):
        if page.evaluate(f"document.activeElement.matches({json.dumps(selector)})"):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_person_signs_in_with_the_keyboard_alone(site, chromium):
    with page_in(chromium, "en") as page:
        page.goto(f"{site.url}/login")
        focus_by_tab(page, "#identifier")
        page.keyboard.type(f"{site.op}/id/kim")
        focus_by_tab(page, "#remember_me")
        page.keyboard.press("Space")
        assert page.locator("#remember_me").is_checked()
        focus_by_tab(page, "button[value=openid]", backwards=True)
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid", "the focused button shows where the focus is"
        focus_by_tab(page, "#identifier", backwards=True)
        page.keyboard.press("Enter")  # signs in with the typed identifier

        playwright_api.expect(page).to_have_url(re.compile(re.escape(f"{site.op}/approve/")))
        focus_by_tab(page, "button[value=approve]")
        page.keyboard.press("Enter")
        playwright_api.expect(page.get_by_role("heading", name="Hi, kim!")).to_be_visible()
        remembered = [c for c in page.context.cookies() if c["name"] == "remember_token"]
        assert remembered, "Remember me was ticked with the Space bar"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 360])
def test_screenshots_of_the_login_and_index_pages(site, chromium, axe_source, scheme, width):
    """Also axe at each width and scheme: contrast in dark mode, the phone's layout."""
    ARTIFACTS.mkdir(exist_ok=True)
    found: dict[str, list[str]] = {}
    viewport = {"width": width, "height": 800}
    with page_in(chromium, "en", viewport=viewport, color_scheme=scheme) as page:
        page.goto(f"{site.url}/login")
        no_sideways_scroll(page)
        page.screenshot(path=ARTIFACTS / f"login-{width}-{scheme}.png", full_page=True)
        check(found, "login", page, axe_source)
        approve_at_dev_openid(page, site.op, "lee")
        playwright_api.expect(page.get_by_role("heading", name="Hi, lee!")).to_be_visible()
        no_sideways_scroll(page)
        page.screenshot(path=ARTIFACTS / f"index-{width}-{scheme}.png", full_page=True)
        check(found, "index", page, axe_source)
        page.goto(f"{site.url}/account")
        check(found, "account", page, axe_source)
    assert found == {}


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], "the page fits the screen's width"
