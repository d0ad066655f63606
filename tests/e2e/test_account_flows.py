"""The account page over HTTP: connected logins, joining on an email clash, devices,
nickname; with the dev OpenID provider (trusted for email here) and panva's oidc-provider
(not trusted)."""

import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from dependency_injector import providers

from tests.dev_oidc import dev_oidc_entry
from tests.e2e.site import CONFIRM_PATH
from tests.e2e.test_login_flows import user_lines
from tests.fakes import FakeClock

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def site_config(site_config, oidc):
    return site_config | {"providers": [*site_config["providers"], dev_oidc_entry(oidc)]}


@pytest.fixture
def clock(site):
    clock = FakeClock(datetime.now(UTC))
    with site.services.clock.override(providers.Object(clock)):
        yield clock


@pytest.fixture
def audit(caplog):
    caplog.set_level(logging.INFO, logger="microblog.audit")
    return lambda: [
        getattr(r, "audit_kind", None) for r in caplog.records if r.name == "microblog.audit"
    ]


def main_of(page: str) -> str:
    """A page's main content, with its CSRF token left out."""
    main = page[page.index("<main") : page.index("</main>")]
    return re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", main)


def connected_logins(visitor) -> list[str]:
    page = visitor.get("/account").text
    return re.findall(r'<tr>\s*<td>([^<]+)</td>\s*<td class="subject">', page)


def test_openid_and_oidc_logins_connected_each_sign_in_to_the_same_user(site, audit):
    alice = site.visitor()
    alice.sign_in("alice")
    page = alice.approve_at_oidc(alice.connect("dev-oidc"), "alice-at-oidc")
    assert page.url == f"{site.url}/account"
    assert "Connected your Dev OIDC identity." in page.text
    assert connected_logins(alice) == ["Dev OpenID", "Dev OIDC"]
    by_oidc, by_openid = site.visitor(), site.visitor()
    by_oidc.sign_in_with_oidc("alice-at-oidc")
    by_openid.sign_in("alice")
    assert by_oidc.greeting() == by_openid.greeting() == "alice"
    assert len(user_lines(site)) == 1
    assert "identity.connected" in audit()


def test_connecting_a_login_of_another_account_is_refused(site):
    site.visitor().sign_in_with_oidc("bob")
    alice = site.visitor()
    alice.sign_in("alice")
    page = alice.approve_at_oidc(alice.connect("dev-oidc"), "bob")
    assert page.status_code == 403
    assert "already connected to another account" in page.text
    assert connected_logins(alice) == ["Dev OpenID"]
    bob = site.visitor()
    bob.sign_in_with_oidc("bob")
    assert bob.greeting() == "bob"


def clash(site, browser):
    """alice's account has alice@example.com; this browser signs in through the untrusted
    provider with that address, verified: the new login waits for alice."""
    return browser.sign_in_with_oidc("alice-elsewhere", "alice@example.com", verified=True)


def test_on_an_email_clash_the_new_login_waits_and_joins_when_the_owner_signs_in_and_confirms(
    site, oidc, audit
):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    page = clash(site, browser)
    assert "An account already uses this email." in page.text
    assert "That account signs in with" not in page.text
    assert browser.greeting() is None and len(user_lines(site)) == 1
    page = browser.sign_in("alice")
    assert page.url == site.url + CONFIRM_PATH
    assert "Connect your Dev OIDC identity?" in page.text
    assert f"alice-elsewhere at {urlsplit(oidc).netloc}" in page.text
    assert "Connected your" not in page.text
    page = browser.answer_waiting_login("connect")
    assert "Connected your Dev OIDC identity to this account." in page.text
    later = site.visitor()
    later.sign_in_with_oidc("alice-elsewhere")
    assert later.greeting() == "alice" and len(user_lines(site)) == 1
    assert {"identity.waiting", "identity.confirmed"} <= set(audit())


def test_choosing_a_language_on_the_confirm_page_keeps_the_waiting_identity(site, oidc, audit):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    clash(site, browser)
    assert browser.sign_in("alice").url == site.url + CONFIRM_PATH
    chosen = browser.http.post(
        f"{site.url}/language",
        data={"language": "es", "next": CONFIRM_PATH},
        headers={"Origin": site.url},
        timeout=10,
    )
    assert chosen.url == site.url + CONFIRM_PATH and 'lang="es"' in chosen.text
    browser.answer_waiting_login("connect")
    assert {"identity.waiting", "identity.confirmed"} <= set(audit())


def test_the_waiting_login_page_names_no_provider_of_the_owner(site):
    site.visitor().sign_in("alice", email="alice@example.com")
    waiting_page = main_of(clash(site, site.visitor()).text)
    plain_page = main_of(site.visitor().get("/login").text)
    assert waiting_page == plain_page  # the same form and buttons, nothing about the account


def test_a_waiting_login_is_not_connected_when_the_owner_signs_in_and_goes_elsewhere(site, audit):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    clash(site, browser)
    assert browser.sign_in("alice").url == site.url + CONFIRM_PATH
    assert browser.greeting() == "alice"  # the home page: anything but the confirm page
    page = browser.answer_waiting_login("connect")
    assert page.status_code == 400
    assert "Nothing was connected." in page.text
    assert browser.get(CONFIRM_PATH).status_code == 400
    assert connected_logins(browser) == ["Dev OpenID"]
    assert "identity.confirmed" not in audit() and "identity.discarded" in audit()


def test_the_owner_may_decline_to_connect_a_waiting_login(site, audit):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    clash(site, browser)
    browser.sign_in("alice")
    page = browser.answer_waiting_login("discard")
    assert page.status_code == 200 and "Your Dev OIDC identity was not connected." in page.text
    assert connected_logins(browser) == ["Dev OpenID"]
    assert "identity.discarded" in audit()
    later = site.visitor()
    assert "An account already uses this email." in clash(site, later).text


def test_confirming_a_waiting_login_without_the_csrf_token_is_refused(site):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    clash(site, browser)
    browser.sign_in("alice")
    page = browser.answer_waiting_login("connect", csrf=False)
    assert page.status_code == 400
    page = browser.answer_waiting_login("yes please")
    assert page.status_code == 400 and "Choose whether to connect this identity." in page.text
    assert connected_logins(browser) == ["Dev OpenID"]


def test_a_confirmation_from_another_session_connects_nothing(site):
    site.visitor().sign_in("alice", email="alice@example.com")
    site.visitor().sign_in("bob", email="bob@example.com")
    browser = site.visitor()
    clash(site, browser)
    browser.sign_in("alice")
    waiting = site.decode_session(browser.http.cookies["session"])["confirm_connect"]
    elsewhere = {"alice": site.visitor(), "bob": site.visitor()}
    for name, other in elsewhere.items():
        other.sign_in(name)
        copied = site.decode_session(other.http.cookies["session"]) | {"confirm_connect": waiting}
        other.http.cookies.set("session", site.encode_session(copied), domain="127.0.0.1")
        page = other.answer_waiting_login("connect")
        assert page.status_code == 400 and "Nothing was connected." in page.text, name
    assert connected_logins(elsewhere["alice"]) == ["Dev OpenID"]
    assert connected_logins(elsewhere["bob"]) == ["Dev OpenID"]
    page = browser.answer_waiting_login("connect")  # the browser that signed in still may
    assert "Connected your Dev OIDC identity to this account." in page.text


def test_a_waiting_login_does_not_join_another_account(site, audit):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    clash(site, browser)
    page = browser.sign_in("bob")
    assert "Connected your" not in page.text and browser.greeting() == "bob"
    assert "An account already uses this email." in clash(site, site.visitor()).text
    assert "identity.discarded" in audit()


def test_a_waiting_login_does_not_join_after_ten_minutes(site, clock):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    clash(site, browser)
    clock.advance(timedelta(minutes=11))
    page = browser.sign_in("alice")
    assert "Connected your" not in page.text and browser.greeting() == "alice"
    assert page.url != site.url + CONFIRM_PATH
    assert connected_logins(browser) == ["Dev OpenID"]


def test_a_confirmation_after_the_ten_minutes_connects_nothing(site, clock):
    site.visitor().sign_in("alice", email="alice@example.com")
    browser = site.visitor()
    clash(site, browser)
    clock.advance(timedelta(minutes=9))
    assert browser.sign_in("alice").url == site.url + CONFIRM_PATH
    clock.advance(timedelta(minutes=2))
    page = browser.answer_waiting_login("connect")
    assert page.status_code == 400 and "Nothing was connected." in page.text
    assert connected_logins(browser) == ["Dev OpenID"]


def test_the_device_list_shows_two_browsers_and_ending_one_signs_it_out(site, audit):
    laptop, phone = site.visitor(), site.visitor()
    laptop.http.headers["User-Agent"], phone.http.headers["User-Agent"] = FIREFOX, PHONE
    laptop.sign_in("alice", remember=True)
    phone.sign_in("alice", remember=True)
    remembered = phone.with_cookies(phone.cookies_named("remember_token"))
    page = laptop.get("/account").text
    assert "Firefox 128 on Linux" in page and "Chrome 156 on Android" in page
    assert page.count("127.0.0.1") >= 2 and "this device" in page
    [phones_session] = re.findall(r'name="device" value="([0-9a-f]{64})"', page)
    page = laptop.account_action("/account/devices/end", device=phones_session)
    assert "That device is signed out." in page.text
    assert phone.greeting() is None and remembered.greeting() is None
    assert laptop.greeting() == "alice"
    assert "device.ended" in audit()


def test_another_accounts_device_cannot_be_ended(site):
    bob = site.visitor()
    bob.sign_in("bob")
    alice = site.visitor()
    alice.sign_in("alice")
    other = site.visitor()
    other.sign_in("bob")
    [bobs_session] = re.findall(r'name="device" value="([0-9a-f]{64})"', other.get("/account").text)
    page = alice.account_action("/account/devices/end", device=bobs_session)
    assert page.status_code == 400 and "not one of your linked identities or devices" in page.text
    assert bob.greeting() == "bob"


def test_log_out_everywhere_else_keeps_only_this_browser(site):
    here, there, elsewhere = site.visitor(), site.visitor(), site.visitor()
    for browser in (here, there, elsewhere):
        browser.sign_in("alice")
    page = here.account_action("/account/devices/end-others")
    assert "Signed out everywhere else (2 sessions ended)." in page.text
    assert here.greeting() == "alice"
    assert there.greeting() is None and elsewhere.greeting() is None


def test_the_last_login_cannot_be_disconnected_but_a_second_one_can(site, audit):
    alice = site.visitor()
    alice.sign_in("alice")
    assert "your only linked identity" in alice.get("/account").text
    forced = alice.account_action(
        "/account/disconnect", namespace="openid", subject=f"{site.op}/id/alice"
    )
    assert forced.status_code == 400 and "This is your only linked identity" in forced.text
    alice.approve_at_oidc(alice.connect("dev-oidc"), "alice-at-oidc")
    page = alice.account_action(
        "/account/disconnect", namespace="openid", subject=f"{site.op}/id/alice"
    )
    assert "Disconnected your Dev OpenID identity." in page.text
    assert connected_logins(alice) == ["Dev OIDC"]
    assert "identity.disconnected" in audit()


def test_connecting_needs_a_recent_sign_in(site, clock):
    alice = site.visitor()
    alice.sign_in("alice")
    clock.advance(timedelta(minutes=11))
    page = alice.connect("dev-oidc")
    assert page.url == f"{site.url}/login?again=1&next=/account"
    assert "Please sign in again to change your linked identities." in page.text
    page = alice.sign_in("alice", path="/login?again=1&next=%2Faccount")
    assert page.url == f"{site.url}/account"
    page = alice.approve_at_oidc(alice.connect("dev-oidc"), "alice-at-oidc")
    assert "Connected your Dev OIDC identity." in page.text


def test_a_nickname_can_be_changed_but_not_to_another_users(site, audit):
    site.visitor().sign_in("bob")
    alice = site.visitor()
    alice.sign_in("alice")
    taken = alice.account_action("/account/nickname", nickname="BOB")
    assert taken.status_code == 400 and "That nickname is taken." in taken.text
    page = alice.account_action("/account/nickname", nickname="  Alice\u200b  Cooper ")
    assert "Your nickname is now Alice Cooper." in page.text
    assert alice.greeting() == "Alice Cooper"
    assert "nickname.changed" in audit()


def test_a_look_alike_or_mixed_script_nickname_is_refused_on_the_account_page(site):
    site.visitor().sign_in("admin")
    mallory = site.visitor()
    mallory.sign_in("mallory")
    looks_taken = "That nickname looks like another user&#39;s nickname. Please choose another."
    for typed, message in [
        ("adm\u0131n", looks_taken),  # dotless i
        ("adrnin", looks_taken),  # r and n read as m
        ("admin\ufe0f", "That nickname is taken."),  # normalised to admin itself
    ]:
        refused = mallory.account_action("/account/nickname", nickname=typed)
        assert refused.status_code == 400 and message in refused.text
    mixed = mallory.account_action("/account/nickname", nickname="\u0430dmin")
    assert mixed.status_code == 400
    assert "mixes letters from different alphabets in one word" in mixed.text
    assert mallory.greeting() == "mallory"
