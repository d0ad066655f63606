"""Audit rows for the flows people go through, and what never reaches a log or a row."""

import logging
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.dev_oidc import CLIENT_SECRET
from tests.dev_oidc import dev_oidc_entry


@pytest.fixture
def site_config(site_config, oidc):
    return site_config | {"providers": [*site_config["providers"], dev_oidc_entry(oidc)]}


def audit_lines(site, *options):
    result = site.cli("audit", *options)
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in result.output.splitlines()]


def kinds(site, *options):
    return [line[1] for line in audit_lines(site, *options)]


def test_sign_in_sign_out_and_refusals_are_audited_with_address_and_browser(site):
    visitor = site.visitor()
    visitor.http.headers["User-Agent"] = "AuditTest/1.0"
    visitor.sign_in("alice")
    visitor.log_out()
    cancelled = site.visitor()
    cancelled.approve(cancelled.start_sign_in(), decision="cancel")
    again = site.visitor()
    again.sign_in("alice")
    again.log_out(everywhere=True)
    lines = audit_lines(site)
    assert [line[1] for line in lines] == [
        "sign_in.succeeded",
        "session.ended",
        "sign_in.refused",
        "sign_in.succeeded",
        "account.signed_out_everywhere",
    ]
    first = lines[0]
    assert first[2].startswith("alice(") and first[3] == "dev"
    assert first[4] == "127.0.0.1" and first[5] == "AuditTest/1.0"
    assert lines[2][2] == "-" and lines[2][-1] == "SignInCancelled"


def test_operator_actions_and_account_changes_are_audited(site):
    alice = site.visitor()
    alice.sign_in("alice")
    alice.approve_at_oidc(alice.connect("dev-oidc"), "alice-at-oidc")
    alice.account_action("/account/nickname", nickname="Alice")
    assert site.cli("users", "disable", "Alice").exit_code == 0
    assert site.cli("users", "enable", "Alice").exit_code == 0
    assert kinds(site, "--user", "alice") == [
        "sign_in.succeeded",
        "identity.connected",
        "nickname.changed",
        "account.disabled",
        "account.enabled",
    ]
    operator = audit_lines(site, "--user", "alice")[-1]
    assert operator[4] == "-", "an operator's action comes from no browser"


def test_audit_since_shows_only_later_events(site):
    site.visitor().sign_in("alice")
    assert kinds(site, "--since", "5m") == ["sign_in.succeeded"]
    assert kinds(site, "--since", "2999-01-01") == []
    refused = site.cli("audit", "--since", "yesterday")
    assert refused.exit_code == 2 and "neither a time ago" in refused.output


def test_no_token_cookie_code_or_client_secret_reaches_a_log_or_an_audit_row(site, caplog):
    caplog.set_level(logging.DEBUG)
    openid = site.visitor()
    openid.sign_in("alice", remember=True)
    oidc = site.visitor()
    page = oidc.sign_in_with_oidc("bob", remember=True)
    [callback] = [r.url for r in page.history if "/login/return/dev-oidc" in r.url]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    secrets = {code, CLIENT_SECRET}
    for visitor in (openid, oidc):
        cookies = visitor.cookies_named("session", "remember_token")
        secrets |= set(cookies.values())
        secrets.add(site.decode_session(cookies["session"])["_user_id"])  # the session token
    openid.log_out()
    # The site serves requests in its server's threads; this thread is the browsers' (their
    # HTTP client logs the URLs they visit, the provider's answer included).
    browsers = threading.get_ident()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.thread != browsers)
    rows = site.cli("audit").output
    assert len(secrets) == 8 and "sign_in.succeeded" in rows and "/login/return/" in logged
    for secret in secrets:
        assert secret not in logged and secret not in rows
    assert not re.search(r"code=|openid\.sig=", logged)
