"""The dev GitHub (devtools/dev_github.py) with the site's GitHub adapter, unchanged, over
HTTP: what `make run` offers as "Dev GitHub"."""

import pytest

from devtools.dev_github import account_id, create_dev_github, dev_github_profile
from tests.e2e.test_account_flows import connected_logins
from tests.e2e.test_login_flows import user_lines
from tests.servers import serving


@pytest.fixture(scope="module")
def dev_github():
    with serving(lambda base: create_dev_github(base)) as base:
        yield base


@pytest.fixture
def site_config(site_config, dev_github):
    entry = dev_github_profile(dev_github) | {"trusted_for_email": True}
    return site_config | {"providers": [*site_config["providers"], entry]}


def test_the_login_page_offers_dev_github(site):
    assert ">Sign in with Dev GitHub</button>" in site.visitor().get("/login").text


def test_a_login_typed_at_dev_github_signs_in_and_again_to_the_same_account(site):
    visitor = site.visitor()
    page = visitor.sign_in_with_github("mona", "mona@example.com", verified=True)
    assert page.url == f"{site.url}/index" and "<h1>Hi, mona!</h1>" in page.text
    assert user_lines(site)[0].split("\t")[1:3] == ["mona", "mona@example.com"]
    assert connected_logins(visitor) == ["Dev GitHub"]
    again = site.visitor()
    again.sign_in_with_github("Mona")  # GitHub's logins ignore case: the same id
    assert again.greeting() == "mona" and len(user_lines(site)) == 1


def test_an_email_not_ticked_verified_is_not_kept(site):
    site.visitor().sign_in_with_github("octo", "octo@example.com")
    assert user_lines(site)[0].split("\t")[1:3] == ["octo", "-"]


def test_cancelling_at_dev_github_says_so(site):
    visitor = site.visitor()
    page = visitor.start_sign_in(provider="dev-github")
    page = visitor.approve_at_github(page, "", decision="cancel")
    assert page.status_code == 400 and "Sign-in was cancelled." in page.text


def test_a_login_github_would_not_take_is_asked_again(site):
    visitor = site.visitor()
    page = visitor.approve_at_github(visitor.start_sign_in(provider="dev-github"), "-bad--")
    assert page.status_code == 400 and "GitHub-style login" in page.text


def test_a_login_keeps_its_id_across_starts():
    assert account_id("mona") == account_id("MONA") != account_id("octo")
