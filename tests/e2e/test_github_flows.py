"""Signing in with GitHub, against the tests' fake GitHub (tests/github_op.py) over real
HTTP: the identity is GitHub's numeric id, only a primary and verified address counts, and
every refusal renders the login page with a 4xx and stores nothing but its audit event."""

import html
import logging
import re
import threading
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.site import CONFIRM_PATH
from tests.e2e.test_audit import kinds
from tests.e2e.test_login_flows import user_lines
from tests.github_op import (
    DROP,
    FakeGitHub,
    github_entry,
    octocat,
    primary,
    secondary,
)
from tests.servers import serving


@pytest.fixture(scope="module")
def served_github():
    fake = FakeGitHub()
    with serving(fake.app):
        yield fake


@pytest.fixture
def github(served_github):
    served_github.reset()
    return served_github


@pytest.fixture
def github_settings():
    """Changes to the site's GitHub entry."""
    return {}


@pytest.fixture
def site_config(site_config, github, github_settings):
    entry = github_entry(github, **github_settings)
    return site_config | {"providers": [*site_config["providers"], entry]}


def sign_in_with_github(visitor, **options):
    """Press "GitHub" on the login page; the fake GitHub answers at once."""
    return visitor.start_sign_in(provider="github", **options)


def github_answer(visitor) -> str:
    """The return URL the fake GitHub sends this browser back to, not followed yet."""
    to_github = visitor.start_sign_in(provider="github", follow=False)
    assert to_github.status_code == 303
    back = visitor.http.get(to_github.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    return back.headers["Location"]


def connected_logins(visitor) -> list[tuple[str, str]]:
    page = visitor.get("/account").text
    found = re.findall(r'<tr>\s*<td>([^<]+)</td>\s*<td class="subject">([^<]+)</td>', page)
    return [(provider, html.unescape(identity)) for provider, identity in found]


def nothing_stored(site, visitor, users_before=0, last_event="sign_in.refused"):
    """A refusal: no account, identity or session; its audit event only."""
    assert len(user_lines(site)) == users_before
    assert visitor.greeting() is None
    assert kinds(site)[-1] == last_event


def refused(page, status, message):
    """The login page itself, with the status and the message: not a redirect to it."""
    assert page.status_code == status, page.text[:500]
    assert "/login/return/github" in page.url
    assert message in html.unescape(page.text)
    assert 'name="provider" value="github"' in page.text  # the login form, to try again


def shown(login, github):
    """How the account page shows a login of the fake GitHub (a GitHub Enterprise Server
    to the site: it is not at https://github.com)."""
    return f"{login} (GitHub at {urlsplit(github.base).netloc})"


CANNOT_VERIFY = "Your provider's answer could not be verified. Please try again."


def test_the_login_page_offers_github(site):
    assert ">GitHub</button>" in site.visitor().get("/login").text


def test_a_new_github_user_gets_an_account_named_after_the_login(site, github):
    visitor = site.visitor()
    page = sign_in_with_github(visitor)
    assert page.url == f"{site.url}/index" and "<h1>Hi, octocat!</h1>" in page.text
    [line] = user_lines(site)
    # Not trusted for email (the default): a verified address is still not kept.
    assert line.split("\t")[1:4] == ["octocat", "-", "active"]
    assert connected_logins(visitor) == [("GitHub", shown("octocat", github))]
    [token_request] = github.token_requests
    assert token_request["Accept"] == "application/json"
    assert "code_verifier" in token_request and "Authorization" not in token_request


def test_the_same_github_user_again_signs_in_to_the_same_account(site):
    sign_in_with_github(site.visitor())
    again = site.visitor()
    sign_in_with_github(again)
    assert again.greeting() == "octocat" and len(user_lines(site)) == 1


def test_a_renamed_login_with_the_same_id_signs_in_to_the_same_account(site, github):
    sign_in_with_github(site.visitor())
    github.person = octocat(login="monalisa", name="Mona")
    renamed = site.visitor()
    page = sign_in_with_github(renamed)
    assert "<h1>Hi, octocat!</h1>" in page.text, "the account keeps its nickname"
    assert len(user_lines(site)) == 1
    assert connected_logins(renamed) == [("GitHub", shown("monalisa", github))]


def test_a_login_without_a_login_field_takes_the_name_then_the_fallback(site, github):
    github.person = octocat(id=1, login=DROP, name="Ada")
    assert sign_in_with_github(site.visitor()).url == f"{site.url}/index"
    github.person = octocat(id=2, login=DROP, name=DROP)
    github.emails = []
    visitor = site.visitor()
    sign_in_with_github(visitor)
    assert visitor.greeting() == "user"


def test_token_answers_in_form_encoding_are_read_too(site, github):
    github.form_tokens = True
    visitor = site.visitor()
    assert sign_in_with_github(visitor).url == f"{site.url}/index"
    assert visitor.greeting() == "octocat"


def test_emails_answering_404_signs_in_without_an_email(site, github):
    github.emails_status = 404
    visitor = site.visitor()
    assert sign_in_with_github(visitor).url == f"{site.url}/index"
    assert user_lines(site)[0].split("\t")[1:3] == ["octocat", "-"]


class TestEmailRequired:
    @pytest.fixture
    def github_settings(self):
        return {"email_required": True}

    def test_emails_answering_404_is_refused_when_an_email_is_required(self, site, github):
        github.emails_status = 404
        visitor = site.visitor()
        page = sign_in_with_github(visitor)
        refused(page, 403, "Your provider did not share an email address")
        nothing_stored(site, visitor)

    def test_an_unverified_primary_email_is_no_email(self, site, github):
        github.emails = [primary("octocat@example.com", verified=False)]
        visitor = site.visitor()
        refused(sign_in_with_github(visitor), 403, "did not share an email address")
        nothing_stored(site, visitor)


class TestTrustedForEmail:
    """GitHub trusted for email: a primary, verified address joins the account that has it."""

    @pytest.fixture
    def github_settings(self):
        return {"trusted_for_email": True}

    def test_the_primary_verified_email_is_kept(self, site):
        sign_in_with_github(site.visitor())
        assert user_lines(site)[0].split("\t")[1:3] == ["octocat", "octocat@example.com"]

    def test_two_github_ids_with_the_same_verified_primary_email_join(self, site, github):
        sign_in_with_github(site.visitor())
        github.person = octocat(id=999, login="octo-work")
        work = site.visitor()
        sign_in_with_github(work)
        assert work.greeting() == "octocat" and len(user_lines(site)) == 1
        assert [identity for _, identity in connected_logins(work)] == [
            shown("octocat", github),
            shown("octo-work", github),
        ]

    def test_an_unverified_primary_email_of_an_account_gives_a_new_account(self, site, github):
        site.visitor().sign_in("alice", email="alice@example.com")
        github.emails = [primary("alice@example.com", verified=False)]
        visitor = site.visitor()
        sign_in_with_github(visitor)
        assert visitor.greeting() == "octocat"
        assert [line.split("\t")[1:3] for line in user_lines(site)] == [
            ["alice", "alice@example.com"],
            ["octocat", "-"],
        ]

    def test_a_verified_secondary_email_of_an_account_gives_a_new_account(self, site, github):
        site.visitor().sign_in("alice", email="alice@example.com")
        github.emails = [
            primary("octocat@example.com", verified=False),
            secondary("alice@example.com", verified=True),
        ]
        visitor = site.visitor()
        sign_in_with_github(visitor)
        assert visitor.greeting() == "octocat"
        assert [line.split("\t")[1:3] for line in user_lines(site)] == [
            ["alice", "alice@example.com"],
            ["octocat", "-"],
        ]


def test_on_an_untrusted_github_two_ids_with_one_verified_email_take_the_waiting_path(site, github):
    # The account has the address from the dev OpenID provider (trusted here), and the
    # first GitHub id connected on its account page.
    owner = site.visitor()
    owner.sign_in("octo", email="octocat@example.com")
    assert owner.connect("github").url == f"{site.url}/account"
    github.person = octocat(id=999, login="octo-work")
    browser = site.visitor()
    page = sign_in_with_github(browser)
    assert "An account already uses this email." in page.text
    assert browser.greeting() is None and len(user_lines(site)) == 1
    page = browser.sign_in("octo")
    assert page.url == site.url + CONFIRM_PATH and "Connect your GitHub login?" in page.text
    page = browser.answer_waiting_login("connect")
    assert "Connected your GitHub login to this account." in page.text
    later = site.visitor()
    sign_in_with_github(later)
    assert later.greeting() == "octo"
    assert {"identity.waiting", "identity.confirmed"} <= set(kinds(site))


def test_cancelling_at_github_says_so_and_stores_nothing(site, github):
    github.deny = True
    visitor = site.visitor()
    refused(sign_in_with_github(visitor), 400, "Sign-in was cancelled.")
    nothing_stored(site, visitor)


def test_a_tampered_state_is_refused(site, github):
    visitor = site.visitor()
    answer = github_answer(visitor)
    tampered = re.sub(r"state=[^&]+", "state=" + "A" * 43, answer)
    page = visitor.http.get(tampered, timeout=10)
    refused(page, 400, "That answer belongs to another sign-in than this browser's.")
    nothing_stored(site, visitor)


def test_a_token_error_inside_a_200_is_refused(site, github):
    github.token_error = "bad_verification_code"
    visitor = site.visitor()
    refused(sign_in_with_github(visitor), 400, CANNOT_VERIFY)
    nothing_stored(site, visitor)
    github.form_tokens = True
    refused(sign_in_with_github(visitor), 400, CANNOT_VERIFY)


def test_a_user_answer_without_an_id_is_refused(site, github):
    github.person = octocat(id=DROP)
    visitor = site.visitor()
    refused(sign_in_with_github(visitor), 400, CANNOT_VERIFY)
    nothing_stored(site, visitor)


def test_a_user_answer_with_an_error_status_is_refused(site, github):
    github.user_status = 401
    visitor = site.visitor()
    refused(sign_in_with_github(visitor), 400, CANNOT_VERIFY)
    nothing_stored(site, visitor)


@pytest.mark.server_error
def test_a_github_answering_5xx_gets_the_provider_unavailable_page(site, github):
    github.user_status = 503
    visitor = site.visitor()
    page = sign_in_with_github(visitor)
    assert page.status_code == 502
    assert "The sign-in provider could not be reached." in page.text
    nothing_stored(site, visitor)


def test_a_replayed_answer_is_refused(site, github):
    visitor = site.visitor()
    answer = github_answer(visitor)
    assert visitor.http.get(answer, timeout=10).url == f"{site.url}/index"
    visitor.log_out()
    page = visitor.http.get(answer, timeout=10)
    refused(page, 400, "Your sign-in attempt expired or was already used.")
    # No sign-in is left to finish, so no provider was asked: as for every protocol, the
    # audit log's last event is the sign-out.
    nothing_stored(site, visitor, users_before=1, last_event="session.ended")


def test_an_answer_posted_cross_site_is_parked_and_finishes_in_the_browser(site, github):
    visitor = site.visitor()
    answer = github_answer(visitor)
    path, query = answer.split("?", 1)
    fields = dict(pair.split("=", 1) for pair in query.split("&"))
    posted = requests.post(path, data=fields, allow_redirects=False, timeout=10)
    assert posted.status_code == 303
    page = visitor.get(posted.headers["Location"].removeprefix(site.url))
    assert page.url == f"{site.url}/index" and visitor.greeting() == "octocat"


def test_github_sign_ins_are_counted_and_audited_by_provider(site, github):
    sign_in_with_github(site.visitor())
    github.deny = True
    sign_in_with_github(site.visitor())
    metrics = site.visitor().get("/metrics").text
    assert 'microblog_logins_total{outcome="succeeded",provider="github"}' in metrics
    assert 'microblog_logins_total{outcome="refused",provider="github"}' in metrics
    assert kinds(site) == ["sign_in.succeeded", "sign_in.refused"]


def test_the_github_secret_codes_and_tokens_reach_no_log_or_audit_row(site, github, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in_with_github(site.visitor())
    # The browser's HTTP client (this thread) logs the URLs it visits, answers included.
    browsers = threading.get_ident()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.thread != browsers)
    assert "/login/return/github" in logged
    rows = site.cli("audit").output
    for secret in [github_entry(github)["client_secret"], *github.issued]:
        assert secret not in rows
        assert secret not in logged


class TestRateLimits:
    @pytest.fixture
    def site_config(self, site_config):
        return site_config | {"rate_limit_login": "2/minute", "rate_limit_callback": "1/minute"}

    def test_github_starts_and_returns_are_limited_per_client(self, site, github):
        visitor = site.visitor()
        assert sign_in_with_github(visitor).url == f"{site.url}/index"
        limited = github_answer(site.visitor())
        page = visitor.http.get(limited, timeout=10)
        assert page.status_code == 429 and "Retry-After" in page.headers
        page = site.visitor().start_sign_in(provider="github", follow=False)
        assert page.status_code == 429
