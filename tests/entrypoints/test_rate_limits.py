import ipaddress
import logging
import time

import pytest
from flask_limiter import Limiter
from hypothesis import given
from hypothesis import strategies as st

from adapters.sql.migrate import upgrade_database
from devtools.servers import free_port
from entrypoints.web.rate_limits import LIMITED, Limited, client_key, counted_methods
from tests.entrypoints.conftest import FAKE_ENTRY, log_in, make_app, start_login
from tests.strategies import client_addresses, ipv6_addresses
from tests.unit.test_openid_identifiers import SPELLINGS_OF_ALICE


@pytest.fixture
def limited_app(tmp_path):
    def limited_app(**limits):
        app = make_app(tmp_path, **limits)
        upgrade_database(app.extensions["container"].engine())
        return app

    yield limited_app


def test_the_31st_login_start_in_a_minute_from_one_address_gets_429(limited_app, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])  # the limits library's clock
    client = limited_app(rate_limit_login="30/minute").test_client()
    for _ in range(30):
        assert start_login(client).status_code == 303
    refused = start_login(client)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many attempts from here." in body and "Traceback" not in body
    clock[0] += 61
    assert start_login(client).status_code == 303, "a later one succeeds"


def from_address(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_login_starts_are_limited_per_typed_identifier_and_address(limited_app):
    app = limited_app(rate_limit_identifier="3/minute")
    here = from_address(app, "10.0.0.1")
    for _ in range(3):
        assert start_login(here, identifier="https://id.example/ALICE").status_code == 303
    assert start_login(here, identifier=" https://id.example/alice ").status_code == 429
    assert start_login(here, identifier="https://id.example/bob").status_code == 303
    assert start_login(here).status_code == 303, "a button with no identifier is not counted"
    elsewhere = from_address(app, "10.0.0.2")
    assert start_login(elsewhere, identifier="https://id.example/alice").status_code == 303


def test_login_starts_per_identifier_from_everywhere_have_a_far_higher_ceiling(limited_app):
    app = limited_app(rate_limit_identifier="2/minute", rate_limit_identifier_total="5/minute")
    for number in range(1, 6):
        client = from_address(app, f"10.0.0.{number}")
        assert start_login(client, identifier="https://id.example/alice").status_code == 303
    last = from_address(app, "10.0.0.9")
    assert start_login(last, identifier="https://id.example/alice").status_code == 429
    assert start_login(last, identifier="https://id.example/bob").status_code == 303


# With "10/hour", Flask-Limiter checks the ceiling (per minute) before the limit per client.
@pytest.mark.parametrize("per_client", ["10/minute", "10/hour"])
def test_a_strangers_login_starts_with_someones_identifier_do_not_lock_them_out(
    limited_app, per_client
):
    app = limited_app(rate_limit_identifier=per_client, rate_limit_identifier_total="100/minute")
    stranger = from_address(app, "203.0.113.66")
    answers = [start_login(stranger, identifier="https://id.example/victim") for _ in range(150)]
    assert answers[-1].status_code == 429, "the stranger is limited"
    victim = from_address(app, "198.51.100.7")
    assert start_login(victim, identifier="https://id.example/victim").status_code == 303


def test_switching_the_identifier_limit_off_switches_off_its_ceiling_too(limited_app):
    app = limited_app(rate_limit_identifier="off", rate_limit_identifier_total="1/minute")
    client = from_address(app, "10.0.0.1")
    assert all(
        start_login(client, identifier="https://id.example/alice").status_code == 303
        for _ in range(5)
    )


def test_spellings_of_one_openid_identifier_share_one_identifier_count(limited_app):
    openid = {"key": "openid", "name": "OpenID"}
    app = limited_app(rate_limit_identifier="1/minute", providers=[FAKE_ENTRY, openid])
    client = from_address(app, "10.0.0.1")

    def start(identifier):
        return start_login(client, provider="openid", identifier=identifier).status_code

    # 192.0.2.1 is not a network the site may fetch from: refused at once, but counted.
    assert start("http://192.0.2.1/alice") == 400
    spellings = [*SPELLINGS_OF_ALICE[1:], " http://192.0.2.1/alice "]
    assert {spelling: start(spelling) for spelling in spellings} == dict.fromkeys(spellings, 429)
    assert start("http://192.0.2.1/bob") == 400, "another identifier has its own count"


def test_login_starts_from_addresses_of_one_ipv6_64_share_one_count(limited_app):
    app = limited_app(rate_limit_login="3/minute")
    for address in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"):
        assert start_login(from_address(app, address)).status_code == 303
    assert start_login(from_address(app, "2001:db8:1:2:abcd::9")).status_code == 429
    assert start_login(from_address(app, "2001:db8:1:3::1")).status_code == 303, "next /64"


def test_the_ipv6_prefix_that_makes_one_client_is_a_setting(limited_app):
    app = limited_app(rate_limit_login="1/minute", rate_limit_ipv6_prefix=48)
    assert start_login(from_address(app, "2001:db8:1:2::1")).status_code == 303
    assert start_login(from_address(app, "2001:db8:1:ffff::1")).status_code == 429
    apart = limited_app(rate_limit_login="1/minute", rate_limit_ipv6_prefix=128)
    assert start_login(from_address(apart, "2001:db8:5::1")).status_code == 303
    assert start_login(from_address(apart, "2001:db8:5::2")).status_code == 303


def test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address(limited_app):
    app = limited_app(rate_limit_login="1/minute")
    assert start_login(from_address(app, "192.0.2.9")).status_code == 303
    assert start_login(from_address(app, "::ffff:192.0.2.9")).status_code == 429


@pytest.mark.parametrize("address", ["garbage", "fe80::1%eth0", "", "::ffff:zz", "1.2.3.4.5"])
def test_a_client_address_that_is_not_one_is_still_limited_and_never_an_error(limited_app, address):
    app = limited_app(rate_limit_login="1/minute")
    assert start_login(from_address(app, address)).status_code == 303
    assert start_login(from_address(app, address)).status_code == 429


@given(ipv6_addresses, st.integers(32, 128))
def test_an_ipv6_client_is_its_network_of_the_prefix_length(address, prefix):
    key = client_key(str(address), prefix)
    if address.ipv4_mapped is not None:
        assert key == str(address.ipv4_mapped)
    else:
        network = ipaddress.ip_network(key)
        assert address in network and network.prefixlen == prefix


@given(client_addresses, st.integers(32, 128))
def test_any_client_address_gives_a_short_key_and_never_an_error(address, prefix):
    key = client_key(address, prefix)
    assert key and len(key) <= 100


@pytest.mark.parametrize("prefix", [31, 129, 0, "sixty-four"])
def test_an_ipv6_prefix_out_of_bounds_is_refused_at_start(tmp_path, prefix):
    from entrypoints.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"rate_limit_ipv6_prefix"):
        make_app(tmp_path, rate_limit_ipv6_prefix=prefix)


def test_provider_returns_are_limited_per_address(limited_app):
    client = limited_app(rate_limit_callback="2/minute").test_client()
    assert client.get("/login/return/fake?state=x").status_code == 400
    assert client.post("/login/return/fake", data={"state": "x"}).status_code == 303
    assert client.get("/login/return/fake?state=x").status_code == 429


def test_parked_answers_are_limited_per_client_prefix(limited_app):
    app = limited_app(rate_limit_parked="3/minute")
    body = {"state": "x", "padding": "p" * 60_000}
    for number in range(1, 4):
        poster = from_address(app, f"2001:db8:7:7::{number}")
        assert poster.post("/login/return/fake", data=body).status_code == 303
    same_64 = from_address(app, "2001:db8:7:7::99")
    assert same_64.post("/login/return/fake", data=body).status_code == 429
    assert same_64.get("/login/return/fake?state=x").status_code == 400, "returns still come"
    other = from_address(app, "2001:db8:7:8::1")
    assert other.post("/login/return/fake", data=body).status_code == 303


def test_account_actions_are_limited_per_user(limited_app):
    app = limited_app(rate_limit_account="2/minute")
    client = app.test_client()
    log_in(client, nickname="alice")
    token = client.get("/account").get_data(as_text=True).split('name="csrf_token" value="')[1]
    token = token.split('"')[0]
    for name in ("alice-1", "alice-2"):
        page = client.post("/account/nickname", data={"nickname": name, "csrf_token": token})
        assert page.status_code == 302
    assert (
        client.post("/account/nickname", data={"nickname": "x", "csrf_token": token}).status_code
        == 429
    )
    assert client.get("/account").status_code == 200, "the page itself is not limited"


def test_the_login_page_itself_is_neither_counted_nor_refused(limited_app):
    client = limited_app(rate_limit_login="2/minute").test_client()
    for _ in range(3):
        page = client.get("/login")
        assert page.status_code == 200 and "X-RateLimit-Limit" not in page.headers
    assert [start_login(client).status_code for _ in range(3)] == [303, 303, 429]
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "skipped"),
    [
        ("GET", "/login", True),
        ("POST", "/login", False),
        ("GET", "/login/return/fake", False),
        ("POST", "/login/return/fake", False),
        ("GET", "/index", True),
    ],
)
def test_flask_limiter_is_skipped_for_a_request_no_limit_counts(
    limited_app, monkeypatch, method, path, skipped
):
    filters = []
    registered = Limiter.request_filter
    monkeypatch.setattr(
        Limiter, "request_filter", lambda limiter, f: filters.append(f) or registered(limiter, f)
    )
    app = limited_app(rate_limit_login="5/minute", rate_limit_callback="5/minute")
    [skips] = filters
    with app.test_request_context(path, method=method):
        assert skips() is skipped


def test_a_limit_on_a_method_written_in_lower_case_is_counted():
    counted = counted_methods([Limited("rate_limit_x", ["e"], "client", ["post"])])
    assert counted == {"e": {"POST"}}


def test_the_site_counts_posts_to_the_login_and_any_return_from_a_provider():
    counted = counted_methods(LIMITED)
    assert counted["auth.login"] == {"POST"} and counted["auth.provider_return"] is None
    assert "pages.index" not in counted and "account.page" not in counted


methods = st.one_of(st.none(), st.lists(st.sampled_from(["GET", "POST", "PUT"]), min_size=1))


@given(st.lists(st.tuples(st.sampled_from("abc"), methods), max_size=6))
def test_an_endpoint_counts_the_methods_of_all_its_limits_and_any_if_one_counts_any(limits):
    active = [Limited("rate_limit_x", [endpoint], "client", m) for endpoint, m in limits]
    counted = counted_methods(active)
    assert set(counted) == {endpoint for endpoint, _ in limits}
    for endpoint in counted:
        mine = [m for e, m in limits if e == endpoint]
        expected = None if None in mine else {method for m in mine for method in m}
        assert counted[endpoint] == expected


def test_limits_can_be_switched_off(limited_app):
    client = limited_app().test_client()
    assert all(start_login(client).status_code == 303 for _ in range(40))


def test_a_limit_storage_that_is_down_lets_requests_through_and_says_so(limited_app, caplog):
    closed_port = free_port()
    app = limited_app(rate_limit_login="1/minute", redis_url=f"redis://127.0.0.1:{closed_port}/0")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        assert [start_login(client).status_code for _ in range(3)] == [303, 303, 303]
    assert any("rate limit" in record.getMessage().lower() for record in caplog.records)


def test_a_bad_limit_is_refused_at_start(tmp_path):
    from entrypoints.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"rate_limit_login: .*is not a limit"):
        make_app(tmp_path, rate_limit_login="thirty a minute")
