import pytest
from flask import Flask, Response, redirect
from hypothesis import given
from hypothesis import strategies as st
from openid import fetchers

from adapters.http.client import (
    FetchPolicy,
    ForbiddenAddress,
    HttpError,
    ResponseTooLarge,
    SafeHttpClient,
)
from adapters.openid.fetcher import SafeFetcher
from tests.servers import serving

LOCAL = FetchPolicy.allowing(["127.0.0.1/32"], max_response_bytes=10_000, read_timeout=1.0)


def make_app(base):
    app = Flask("fetched")

    @app.get("/small")
    def small():
        return "hello"

    @app.get("/large")
    def large():
        return "x" * 20_000

    @app.get("/to-internal")
    def to_internal():
        return redirect("http://127.0.0.2:9/secret")

    @app.get("/loop")
    def loop():
        return redirect(f"{base}/loop")

    @app.post("/form")
    def form():
        from flask import request

        return Response(request.content_type or "", content_type="text/plain")

    return app


@pytest.fixture(scope="module")
def site():
    with serving(make_app) as base:
        yield base


def client(policy=LOCAL):
    return SafeHttpClient(policy)


def test_an_allowed_host_is_fetched(site):
    response = client().request("GET", f"{site}/small")
    assert (response.status, response.text()) == (200, "hello")


def test_python3_openid_posts_through_it_as_a_form(site):
    response = SafeFetcher(client()).fetch(f"{site}/form", body="a=b")
    assert response.body.startswith("application/x-www-form-urlencoded")


def test_python3_openid_gets_its_own_error_carrying_the_cause(site):
    with pytest.raises(fetchers.HTTPFetchingError) as failed:
        SafeFetcher(client(FetchPolicy())).fetch(f"{site}/small")
    assert isinstance(failed.value.why, ForbiddenAddress)


def test_a_response_over_the_size_cap_is_refused(site):
    with pytest.raises(ResponseTooLarge):
        client().request("GET", f"{site}/large")


def test_a_redirect_to_an_internal_address_is_refused(site):
    with pytest.raises(ForbiddenAddress):
        client().request("GET", f"{site}/to-internal")


def test_endless_redirects_are_cut_off(site):
    with pytest.raises(HttpError):
        client().request("GET", f"{site}/loop")


def test_loopback_is_refused_unless_allowed(site):
    with pytest.raises(ForbiddenAddress):
        client(FetchPolicy()).request("GET", f"{site}/small")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/"])
def test_only_http_urls_are_fetched(url):
    with pytest.raises(HttpError):
        client(FetchPolicy()).request("GET", url)


internal_ips = st.one_of(
    st.ip_addresses(network="127.0.0.0/8"),
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="172.16.0.0/12"),
    st.ip_addresses(network="192.168.0.0/16"),
    st.ip_addresses(network="169.254.0.0/16"),
    st.ip_addresses(network="fc00::/7"),
    st.ip_addresses(network="fe80::/10"),
    st.just("::1"),
    st.just("0.0.0.0"),
    st.builds(lambda ip: f"::ffff:{ip}", st.ip_addresses(network="10.0.0.0/8")),
)


@given(internal_ips)
def test_no_internal_address_is_permitted_by_default(ip):
    assert not FetchPolicy().permits(str(ip))
