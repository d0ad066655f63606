import os
import re
import time
from pathlib import Path

import pytest

from devtools.dev_github import create_dev_github, dev_github_profile
from devtools.dev_provider import DevProviderSettings, create_dev_provider, dev_provider_profile
from tests.dev_oidc import dev_oidc_entry
from tests.e2e.site import served_app
from tests.servers import serving

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Headless as root, with no network beyond loopback (see DESIGN.md's known pitfalls).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'browser.sqlite'}"


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (make test installs it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def approve_at_dev_openid(page, op, name, email=None):
    """Press "Dev OpenID" on the login page, then type a name (and email) and approve."""
    page.get_by_role("button", name="Dev OpenID").click()
    playwright_api.expect(page).to_have_url(re.compile(re.escape(f"{op}/approve/")))
    page.get_by_label("Name").fill(name)
    if email:
        page.get_by_label("Email (optional)").fill(email)
    page.get_by_role("button", name="Approve").click()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def test_a_person_signs_in_through_the_dev_provider_and_out_again(site, page):
    expect = playwright_api.expect
    page.goto(f"{site.url}/")
    expect(page).to_have_url(f"{site.url}/login?next=%2F")
    expect(page.get_by_text("Please log in to access this page.")).to_be_visible()

    page.get_by_label("Remember me").check()
    approve_at_dev_openid(page, site.op, "alice", "alice@example.com")

    expect(page).to_have_url(f"{site.url}/")
    expect(page.get_by_role("heading", name="Hi, alice!")).to_be_visible()
    navigation = page.get_by_role("navigation", name="Site")
    expect(navigation.get_by_role("link", name="Account")).to_be_visible()
    expect(navigation.get_by_role("button", name="Logout")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "index.png", full_page=True)

    page.reload()
    expect(page.get_by_role("heading", name="Hi, alice!")).to_be_visible()

    page.get_by_role("button", name="Logout").click()
    expect(page).to_have_url(f"{site.url}/login")
    expect(page.get_by_text("You have been logged out.")).to_be_visible()
    page.goto(f"{site.url}/")
    expect(page).to_have_url(f"{site.url}/login?next=%2F")


def test_remember_me_keeps_a_person_signed_in_after_a_browser_restart(site, chromium, page):
    page.goto(f"{site.url}/login")
    page.get_by_label("Remember me").check()
    approve_at_dev_openid(page, site.op, "bob")
    playwright_api.expect(page.get_by_role("heading", name="Hi, bob!")).to_be_visible()

    # A restart keeps only the cookies that have an expiry date.
    kept = [c for c in page.context.cookies() if c["expires"] > 0]
    assert [c["name"] for c in kept] == ["remember_token"]
    restarted = chromium.new_context()
    restarted.add_cookies(kept)
    again = restarted.new_page()
    again.goto(f"{site.url}/")
    playwright_api.expect(again.get_by_role("heading", name="Hi, bob!")).to_be_visible()
    restarted.close()


@pytest.fixture
def cross_site(site_config):
    """The app on 127.0.0.1 and, on another site (localhost), a provider that answers every
    login by an auto-submitted POST; yields both URLs."""
    provider = lambda base: create_dev_provider(DevProviderSettings(base, post_answers=True))  # noqa: E731
    with (
        serving(provider, host="localhost") as op,
        served_app(site_config | {"providers": [dev_provider_profile(op)]}) as (url, _),
    ):
        yield url, op


def test_an_answer_posted_back_from_another_site_signs_the_person_in(cross_site, page):
    url, op = cross_site
    returns = []
    page.on("request", lambda r: returns.append(r) if "/login/return/" in r.url else None)
    page.goto(f"{url}/")
    approve_at_dev_openid(page, op, "carol")

    playwright_api.expect(page).to_have_url(f"{url}/")
    playwright_api.expect(page.get_by_role("heading", name="Hi, carol!")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "cross-site-post-back.png", full_page=True)
    posted, fetched = returns[0], returns[1]
    assert (posted.method, posted.headers["origin"]) == ("POST", op)
    assert "cookie" not in posted.all_headers(), "a cross-site POST carries no Lax cookie"
    assert fetched.method == "GET" and "parked_callback=" in fetched.url
    assert "session=" in fetched.all_headers()["cookie"], "the same-site GET carries it"


@pytest.fixture
def oidc_site(site_config, oidc):
    """The app with both dev providers: OpenID (as the e2e site has it) and OIDC."""
    config = site_config | {"providers": [*site_config["providers"], dev_oidc_entry(oidc)]}
    with served_app(config) as (url, _):
        yield url, oidc


def test_a_person_signs_in_through_the_dev_oidc_provider(oidc_site, page):
    url, issuer = oidc_site
    expect = playwright_api.expect
    page.goto(f"{url}/")
    page.get_by_label("Remember me").check()
    page.get_by_role("button", name="Dev OIDC").click()
    expect(page).to_have_url(re.compile(re.escape(f"{issuer}/interaction/")))
    page.get_by_label("Name").fill("erin")
    page.get_by_label("Email (optional)").fill("erin@example.com")
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(f"{url}/")
    expect(page.get_by_role("heading", name="Hi, erin!")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "oidc-index.png", full_page=True)
    page.get_by_role("button", name="Logout").click()
    expect(page.get_by_text("You have been logged out.")).to_be_visible()


@pytest.fixture
def signing_out_oidc_site(site_config, oidc):
    """The app with Dev OIDC set to sign out there too (RP-initiated logout)."""
    entry = dev_oidc_entry(oidc, sign_out_at_provider=True)
    with served_app(site_config | {"providers": [entry]}) as (url, _):
        yield url, oidc


def test_logout_signs_out_at_the_dev_oidc_provider_too_and_comes_back(signing_out_oidc_site, page):
    url, issuer = signing_out_oidc_site
    expect = playwright_api.expect
    page.goto(f"{url}/login")
    page.get_by_role("button", name="Dev OIDC").click()
    page.get_by_label("Name").fill("hana")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Hi, hana!")).to_be_visible()

    page.get_by_role("button", name="Logout").click()
    expect(page).to_have_url(re.compile(re.escape(f"{issuer}/session/end?")))
    expect(page.get_by_role("heading", name="Sign out of Dev OIDC?")).to_be_visible()
    page.get_by_role("button", name="Yes, sign me out").click()

    expect(page).to_have_url(re.compile(re.escape(f"{url}/logout/return/dev-oidc?state=")))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "signed-out-at-provider.png", full_page=True)
    page.goto(f"{url}/")
    expect(page).to_have_url(f"{url}/login?next=%2F")
    page.get_by_role("button", name="Dev OIDC").click()
    expect(page.get_by_label("Name")).to_be_visible()  # the provider asks again


def test_a_person_connects_a_second_login_on_the_account_page(oidc_site, op, page):
    url, issuer = oidc_site
    expect = playwright_api.expect
    page.goto(f"{url}/login")
    approve_at_dev_openid(page, op, "fay")
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text("your only linked identity")).to_be_visible()

    page.get_by_role("button", name="Connect Dev OIDC").click()
    expect(page).to_have_url(re.compile(re.escape(f"{issuer}/interaction/")))
    page.get_by_label("Name").fill("fay-at-oidc")
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(f"{url}/account")
    expect(page.get_by_text("Connected your Dev OIDC identity.")).to_be_visible()
    expect(page.get_by_role("button", name="Disconnect")).to_have_count(2)
    expect(page.get_by_text("this device")).to_be_visible()
    page.get_by_label("Nickname").fill("Fay Wray")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your nickname is now Fay Wray.")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "account.png", full_page=True)


def test_logout_from_a_page_left_open_longer_than_its_form_token_signs_out(site, page, monkeypatch):
    """Chromium says where a form's POST comes from (Origin, Sec-Fetch-Site): the site's own
    page logs out though the token in it expired an hour ago (issue 26, item 6)."""
    expect = playwright_api.expect
    page.goto(f"{site.url}/login")
    approve_at_dev_openid(page, site.op, "carol")
    expect(page.get_by_role("heading", name="Hi, carol!")).to_be_visible()
    opened_at = time.time()
    # The served app runs in this process: its tokens' clock (itsdangerous) moves on.
    monkeypatch.setattr(time, "time", lambda: opened_at + 3661)

    page.get_by_role("button", name="Logout").click()
    expect(page).to_have_url(f"{site.url}/login")
    expect(page.get_by_text("You have been logged out.")).to_be_visible()
    page.goto(f"{site.url}/")
    expect(page).to_have_url(f"{site.url}/login?next=%2F")


def test_a_waiting_login_is_connected_only_when_its_owner_confirms_it(oidc_site, op, page):
    url, issuer = oidc_site
    expect = playwright_api.expect
    page.goto(f"{url}/login")
    approve_at_dev_openid(page, op, "gus", "gus@example.com")
    page.get_by_role("button", name="Logout").click()

    page.get_by_role("button", name="Dev OIDC").click()
    page.get_by_label("Name").fill("gus-elsewhere")
    page.get_by_label("Email (optional)").fill("gus@example.com")
    page.get_by_label("Say the email is verified").check()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("An account already uses this email.")).to_be_visible()
    expect(page.get_by_text("signs in with")).to_have_count(0)

    approve_at_dev_openid(page, op, "gus")
    expect(page).to_have_url(f"{url}/account/connect/confirm")
    expect(page.get_by_role("heading", name="Connect your Dev OIDC identity?")).to_be_visible()
    expect(page.get_by_text(f"gus-elsewhere at {issuer.split('://')[1]}")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "confirm-connection.png", full_page=True)
    page.get_by_role("button", name="Connect this identity").click()
    expect(page.get_by_text("Connected your Dev OIDC identity to this account.")).to_be_visible()


@pytest.fixture
def github_site(site_config):
    """The app with the dev GitHub beside the dev OpenID provider."""
    with serving(lambda base: create_dev_github(base)) as github:
        config = site_config | {"providers": [dev_github_profile(github)]}
        with served_app(config) as (url, _):
            yield url, github


def test_a_person_signs_in_through_dev_github_and_sees_the_login_on_the_account_page(
    github_site, page
):
    url, github = github_site
    expect = playwright_api.expect
    page.goto(f"{url}/")
    page.get_by_role("button", name="Dev GitHub").click()
    expect(page).to_have_url(re.compile(re.escape(f"{github}/login/oauth/authorize?")))
    page.get_by_label("Login").fill("gwen")
    page.get_by_label("Email (optional)").fill("gwen@example.com")
    page.get_by_label("verified").check()
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(f"{url}/")
    expect(page.get_by_role("heading", name="Hi, gwen!")).to_be_visible()
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_text(f"gwen (GitHub at {github.removeprefix('http://')})")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "github-account.png", full_page=True)
