"""The production shape, for real: nginx round-robin in front of two gunicorn instances,
PostgreSQL, Redis (devtools/stack.py, what `make stack` runs). Every test runs with the
sessions in PostgreSQL and in Redis."""

import os
import re
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from devtools.dev_oidc import dev_oidc_profile, logout_uris
from devtools.dev_provider import dev_provider_profile
from devtools.servers import free_port
from devtools.stack import Stack, nginx_path
from tests.dev_oidc import dev_oidc_provider, require_dev_oidc
from tests.e2e.site import Site, Visitor

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module", params=["sql", "redis"])
def stack(request, op):
    if nginx_path() is None:
        message = "nginx is not installed (make test installs Debian's nginx as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    request.getfixturevalue("redis_server")  # skips or fails the same way without Redis
    request.getfixturevalue("postgres")  # and without PostgreSQL
    limits = {
        "MICROBLOG_RATE_LIMIT_LOGIN": "1000/minute",
        "MICROBLOG_RATE_LIMIT_CALLBACK": "1000/minute",
        "MICROBLOG_RATE_LIMIT_IDENTIFIER": "3/minute",
    }
    require_dev_oidc()
    port = free_port()  # the stack's URL, registered with Dev OIDC before either starts
    with dev_oidc_provider(environment=logout_uris(f"http://127.0.0.1:{port}", "dev-oidc")) as oidc:
        providers = [
            {"key": "openid", "name": "OpenID"},
            dev_provider_profile(op),
            dev_oidc_profile(oidc),
        ]
        with Stack(
            providers, session_store=request.param, extra_environment=limits, port=port
        ) as stack:
            stack.oidc = oidc  # type: ignore[attr-defined]
            yield stack


@pytest.fixture
def site(stack, op):
    return Site(stack.url, app=None, op=op)


def at(visitor: Visitor, url: str) -> Visitor:
    """The same browser (cookie jar), talking straight to `url` (one instance) instead."""
    other = Visitor(Site(url, app=None, op=visitor.site.op))
    other.http = visitor.http
    return other


def provider_answer(visitor: Visitor, name: str, start_at: str) -> str:
    """Begin a login at `start_at`, approve it at the provider: the return path and query
    the provider sends the browser to, not followed yet."""
    page = at(visitor, start_at).start_sign_in()
    answer = visitor.http.post(
        page.url, data={"decision": "approve", "name": name}, allow_redirects=False, timeout=10
    )
    location = answer.headers["Location"]
    assert location.startswith(visitor.site.url + "/login/return/dev?"), location
    return location.removeprefix(visitor.site.url)


def wait_until_ready(stack, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{stack.url}/readyz", timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail("the stack did not become ready again")


def test_a_login_begun_on_one_instance_completes_on_the_other(stack, site):
    one, two = (instance.url for instance in stack.app_instances)
    for name, begin, finish in [("ann", one, two), ("ben", two, one)]:
        visitor = site.visitor()
        answer = provider_answer(visitor, name, begin)
        landed = at(visitor, finish).get(answer)
        assert landed.url == f"{finish}/index" and f"Hi, {name}!" in landed.text
        assert at(visitor, begin).greeting() == name


def test_a_session_is_valid_on_both_and_a_logout_on_one_ends_it_on_both(stack, site):
    one, two = (instance.url for instance in stack.app_instances)
    visitor = site.visitor()
    assert visitor.sign_in("cleo", remember=True).url == f"{stack.url}/index"
    old_cookies = visitor.cookies_named("session", "remember_token")
    assert set(old_cookies) == {"session", "remember_token"}
    assert [at(visitor, url).greeting() for url in (one, two)] == ["cleo", "cleo"]

    assert at(visitor, one).log_out().url == f"{one}/login"
    for url in (one, two, stack.url):
        copy = at(visitor.with_cookies(old_cookies), url)
        assert copy.greeting() is None, url
        assert copy.get("/index").url.startswith(f"{url}/login")


def test_a_logout_at_the_provider_ends_that_persons_session_on_both_instances(stack, site):
    one, two = (instance.url for instance in stack.app_instances)
    kim, lee = site.visitor(), site.visitor()
    assert kim.sign_in_with_oidc("kim", remember=True).url == f"{stack.url}/index"
    assert lee.sign_in_with_oidc("lee", remember=True).url == f"{stack.url}/index"
    remembered = kim.with_cookies(kim.cookies_named("remember_token"))
    assert [at(kim, url).greeting() for url in (one, two)] == ["kim", "kim"]

    # Kim signs out on the provider's own page: it posts a logout token through nginx.
    kim.sign_out_at_oidc(kim.http.get(f"{stack.oidc}/session/end", timeout=10))

    for url in (one, two, stack.url):
        assert at(kim, url).greeting() is None, url
        assert at(remembered, url).greeting() is None, url
        assert at(lee, url).greeting() == "lee", url


def test_an_openid_answer_replayed_to_the_other_instance_is_refused(stack, site):
    one, two = (instance.url for instance in stack.app_instances)
    visitor = site.visitor()
    answer = provider_answer(visitor, "dora", one)
    assert at(visitor, one).get(answer).url == f"{one}/index"
    for replayer in (visitor, site.visitor()):  # the same browser, and another
        replayed = at(replayer, two).get(answer)
        assert replayed.status_code == 400
        assert "expired or was already used" in replayed.text
    assert site.visitor().greeting() is None


def test_one_instance_killed_mid_batch_costs_at_most_the_logins_in_flight(stack, site):
    browsers, each = 4, 8
    results: list[bool] = []
    done = threading.Semaphore(0)

    def log_in(worker: int) -> None:
        for n in range(each):
            try:
                page = site.visitor().sign_in(f"batch{worker}x{n}")
                results.append(page.url == f"{stack.url}/index")
            except (requests.RequestException, AssertionError):  # an error page on the way
                results.append(False)
            done.release()

    threads = [threading.Thread(target=log_in, args=(w,)) for w in range(browsers)]
    for thread in threads:
        thread.start()
    for _ in range(browsers * each // 3):
        done.acquire()
    stack.kill_instance(1)  # SIGKILL: a crash, workers and all
    for thread in threads:
        thread.join()
    failed = results.count(False)
    print(f"{len(results)} logins, {failed} failed with instance 1 killed mid-batch")
    assert len(results) == browsers * each
    assert failed <= browsers  # at most one login in flight per browser
    stack.start_instance(1)
    wait_until_ready(stack)
    # Those who got in are known users: the same person signs in to the same account.
    visitor = site.visitor()
    assert visitor.sign_in("batch0x7").url == f"{stack.url}/index"
    assert visitor.greeting() == "batch0x7"


def test_rate_limits_count_across_instances(stack, site):
    one, two = (instance.url for instance in stack.app_instances)
    visitor = site.visitor()
    statuses = []
    for url in (one, two, one, two):
        token = at(visitor, url).csrf_token()
        form = {"csrf_token": token, "provider": "openid", "identifier": "limited.example"}
        statuses.append(at(visitor, url).post("/login", form, allow_redirects=False).status_code)
    assert statuses[:3] != [429] * 3 and statuses[3] == 429


def test_redis_stopped_gives_503_pages_and_clear_refusals_then_the_site_recovers(stack, site):
    sessions_in_redis = stack.session_store == "redis"
    visitor = site.visitor()
    assert visitor.sign_in("erin", remember=True).url == f"{stack.url}/index"
    stack.redis.pause()
    try:
        index = visitor.get("/index")
        started = site.visitor().start_sign_in()
        ready = requests.get(f"{stack.url}/readyz", timeout=10)
        if sessions_in_redis:
            assert index.status_code == 503 and "cannot reach its session store" in index.text
            assert started.status_code == 503
            assert "cannot reach its session store" in started.text
            assert "Traceback" not in index.text + started.text
        else:  # sessions in PostgreSQL: only the rate limits' counters are away
            assert index.status_code == 200 and "Hi, erin!" in index.text
            assert urlsplit(started.url).netloc == urlsplit(site.op).netloc
        assert (ready.status_code, ready.json()["redis"]) == (503, "unreachable")
    finally:
        stack.redis.resume()  # an empty Redis, as after a restart without persistence
    wait_until_ready(stack)
    if sessions_in_redis:  # the session went with Redis; the account did not
        assert visitor.greeting() is None
        assert visitor.sign_in("erin").url == f"{stack.url}/index"
    assert visitor.greeting() == "erin"  # not erin2: the same user, found by identity
    assert site.visitor().sign_in("fred").url == f"{stack.url}/index"


def test_the_proxy_log_holds_no_provider_answer(stack, site):
    site.visitor().sign_in("gwen")
    log = (stack.directory / "nginx-access.log").read_text()
    assert "/login/return/dev" in log
    assert not re.search(r"openid\.|state=|\?", log)
