import ipaddress
import itertools
import socket
import threading
import time
from contextlib import contextmanager

import pytest
import requests
import urllib3
from flask import Flask, Response, redirect
from hypothesis import given
from hypothesis import strategies as st
from openid import fetchers

from adapters.http.addresses import SPECIAL_PURPOSE
from adapters.http.caching import ResponseCache
from adapters.http.client import (
    FetchPolicy,
    ForbiddenAddress,
    HttpError,
    ResponseTooLarge,
    SafeHttpClient,
)
from adapters.openid.fetcher import SafeFetcher
from devtools.relay import Relay, relaying
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

    @app.get("/to-small")
    def to_small():
        return redirect("/small")

    @app.post("/form")
    def form():
        from flask import request

        return Response(request.content_type or "", content_type="text/plain")

    @app.route("/redirect", methods=["GET", "POST"])
    def redirect_as_asked():
        from flask import request

        return redirect(request.args["to"], int(request.args.get("code", 302)))

    @app.route("/echo", methods=["GET", "POST"])
    def echo():
        from flask import request

        said = f"{request.headers.get('Authorization')}|{request.get_data(as_text=True)}"
        return Response(said, content_type="text/plain")

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


def test_other_http_clients_of_the_process_keep_their_own_connections(site):
    SafeHttpClient(FetchPolicy())  # refuses loopback: only for its own requests
    with urllib3.PoolManager(retries=False) as others:
        assert others.request("GET", f"{site}/small").status == 200
    assert requests.get(f"{site}/small", timeout=5).text == "hello"


@pytest.fixture
def dns(monkeypatch):
    """Names the tests resolve as they like: name -> address."""
    answers: dict[str, str] = {}
    resolve = socket.getaddrinfo

    def getaddrinfo(host, *args, **options):
        return resolve(answers.get(host, host), *args, **options)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def kept_alive(site, dns):
    """The site behind a relay that keeps connections open (the development server closes
    each one), named provider.example; the relay counts the connections."""
    relay = Relay(site)
    with relaying(relay) as url:
        dns["provider.example"] = "127.0.0.1"
        yield url.replace("127.0.0.1", "provider.example"), relay


def test_requests_to_a_provider_reuse_one_connection_redirects_and_all(kept_alive):
    url, relay = kept_alive
    http = client()
    for path in ("/small", "/to-small", "/small"):
        assert http.request("GET", f"{url}{path}").text() == "hello"
    assert (relay.total, relay.connections) == (4, 1)


def test_a_connection_left_in_the_middle_of_an_answer_is_not_reused(kept_alive):
    url, relay = kept_alive
    http = client()
    with pytest.raises(ResponseTooLarge):
        http.request("GET", f"{url}/large")
    assert http.request("GET", f"{url}/small").text() == "hello"
    assert (relay.total, relay.connections) == (2, 2)


def test_a_new_connection_is_refused_once_the_name_points_to_a_forbidden_address(kept_alive, dns):
    url, relay = kept_alive
    http = client()
    http.request("GET", f"{url}/small")
    dns["provider.example"] = "127.0.0.2"  # not in LOCAL's allowed networks
    assert http.request("GET", f"{url}/small").text() == "hello", "on the open connection"
    relay.drop_connections()
    with pytest.raises(ForbiddenAddress):
        http.request("GET", f"{url}/small")
    assert relay.connections == 1


def test_python3_openid_gets_are_kept_and_its_posts_never(kept_alive):
    url, relay = kept_alive
    fetcher = SafeFetcher(client(), ResponseCache())
    for _ in range(2):
        assert fetcher.fetch(f"{url}/small", headers={"Accept": "application/xrds+xml"}).body
        fetcher.fetch(f"{url}/small", headers={"Accept": "text/html"})
        fetcher.fetch(f"{url}/form", body="a=b")
    assert relay.requests == {"GET /small": 2, "POST /form": 2}


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


@pytest.fixture(scope="module")
def elsewhere():
    """Another origin: the same app on another port."""
    with serving(make_app) as base:
        yield base


def test_a_redirect_to_another_origin_does_not_carry_the_authorization(site, elsewhere):
    secret = {"Authorization": "Bearer the-access-token"}
    to = f"{site}/redirect?to={elsewhere}/echo"
    assert client().request("GET", to, headers=secret).text() == "None|"
    same_origin = f"{site}/redirect?to=/echo"
    assert client().request("GET", same_origin, headers=secret).text() == (
        "Bearer the-access-token|"
    )


def test_a_body_is_never_sent_again_to_another_origin(site, elsewhere):
    to = f"{site}/redirect?to={elsewhere}/echo&code=307"
    with pytest.raises(HttpError):
        client().request("POST", to, body="client_secret=s3cret")
    same_origin = f"{site}/redirect?to=/echo&code=307"
    assert client().request("POST", same_origin, body="a=1").text() == "None|a=1"


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


# Each of these reaches an internal network although Python calls some of them "global".
TRANSLATED_OR_TUNNELLED = [
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",  # IPv4-mapped metadata service
    "::10.0.0.1",  # IPv4-compatible (deprecated)
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "100.64.0.1",  # carrier-grade NAT
    "fd00:ec2::254",  # a cloud's IPv6 metadata service
]


@pytest.mark.parametrize("address", TRANSLATED_OR_TUNNELLED)
def test_addresses_that_lead_to_internal_networks_are_refused(address):
    assert not FetchPolicy().permits(address)


@pytest.mark.parametrize("address", ["64:ff9b::a00:1", "2002:a00:1::1", "::10.0.0.1"])
def test_they_are_refused_before_any_connection(address):
    with pytest.raises(ForbiddenAddress):
        client(FetchPolicy()).request("GET", f"http://[{address}]:9/")


def test_a_public_address_is_still_permitted():
    assert FetchPolicy().permits("93.184.215.14") and FetchPolicy().permits("2606:4700::1")


def test_a_public_ipv4_address_behind_nat64_or_6to4_is_permitted():
    # An IPv6-only host reaches public providers through DNS64 and NAT64.
    assert FetchPolicy().permits("64:ff9b::808:808") and FetchPolicy().permits("2002:808:808::1")


@contextmanager
def dripping_server(head: bytes, drip: bytes, every: float, lasts: float):
    """Sends `head` at once, then `drip` one byte at a time, every `every` seconds, for at most
    `lasts` seconds: each byte comes well within a read timeout, the whole never ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(head)
            ended = time.monotonic() + lasts
            for byte in itertools.cycle(drip):
                if stop.wait(every) or time.monotonic() > ended:
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


DRIP = FetchPolicy.allowing(["127.0.0.1/32"], connect_timeout=1.0, read_timeout=1.0, deadline=2.0)


@pytest.mark.parametrize(
    ("where", "head", "drip"),
    [
        ("headers", b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 1000),
        ("body", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x" * 1000),
    ],
)
def test_a_provider_sending_a_byte_at_a_time_is_cut_off_at_the_deadline(where, head, drip):
    with dripping_server(head, drip, every=0.3, lasts=10) as url:
        started = time.monotonic()
        with pytest.raises(HttpError):
            client(DRIP).request("GET", url)
        took = time.monotonic() - started
    print(f"drip in the {where}: cut off after {took:.2f} s (deadline {DRIP.deadline} s)")
    assert took < DRIP.deadline + 0.5


# Item 8 of issue 26: IANA's special-purpose ranges are denied by a table of the site's own,
# not by whatever Python's `is_global` says in the running version.
def test_a_local_nat64_address_is_refused_and_raises_nothing_with_an_allowed_network():
    assert not FetchPolicy.allowing(["127.0.0.1/32"]).permits("64:ff9b:1::a00:1")


@pytest.mark.parametrize("address", ["fec0::1", "192.0.0.8", "5f00::1", "3fff::1"])
def test_special_purpose_addresses_python_calls_global_are_refused(address):
    assert not FetchPolicy().permits(address)


def _edges(network):
    """The first, second and last address of a network, and one in its middle."""
    size = network.num_addresses
    return {network[0], network[min(1, size - 1)], network[size // 2], network[-1]}


@pytest.mark.parametrize(
    "row", [row for row in SPECIAL_PURPOSE if row.carries is None], ids=lambda row: str(row.network)
)
def test_every_listed_range_is_refused(row):
    for address in _edges(row.network):
        assert not FetchPolicy().permits(str(address)), (address, row.name)
        assert not FetchPolicy.allowing(["8.8.8.0/24"]).permits(str(address)), address


@pytest.mark.parametrize(
    "row",
    [row for row in SPECIAL_PURPOSE if row.carries is not None],
    ids=lambda row: str(row.network),
)
def test_a_range_carrying_ipv4_is_refused_when_its_ipv4_address_is(row):
    internal = row.wrap(ipaddress.IPv4Address("10.1.2.3"))
    public = row.wrap(ipaddress.IPv4Address("8.8.8.8"))
    assert internal in row.network and public in row.network
    assert not FetchPolicy().permits(str(internal))
    assert FetchPolicy().permits(str(public))


@pytest.mark.parametrize(
    "address",
    [
        "1.1.1.1",
        "8.8.4.4",
        "93.184.215.14",
        "192.0.1.1",  # next to IETF Protocol Assignments
        "198.20.0.1",  # next to Benchmarking
        "223.255.255.254",
        "2001:4860:4860::8888",
        "2001:200::1",  # just past 2001::/23
        "2606:4700::1",
        "2a00:1450:4001::1",
        "3ffe:ffff::1",  # just below 3fff::/20
    ],
)
def test_a_sample_of_global_addresses_is_permitted(address):
    assert FetchPolicy().permits(address)


allowed_networks = st.lists(
    st.one_of(
        st.builds(
            lambda ip, bits: str(ipaddress.ip_network(f"{ip}/{bits}", strict=False)),
            st.ip_addresses(v=4),
            st.integers(0, 32),
        ),
        st.builds(
            lambda ip, bits: str(ipaddress.ip_network(f"{ip}/{bits}", strict=False)),
            st.ip_addresses(v=6),
            st.integers(0, 128),
        ),
    ),
    max_size=3,
)
any_addresses = st.one_of(
    st.ip_addresses(),
    st.sampled_from([row.network for row in SPECIAL_PURPOSE]).flatmap(
        lambda network: st.ip_addresses(network=network)
    ),
)


@given(any_addresses, allowed_networks)
def test_the_policy_answers_for_every_address_without_raising(address, networks):
    policy = FetchPolicy.allowing(networks)
    permitted = policy.permits(str(address))
    assert isinstance(permitted, bool)
    if any(address in ipaddress.ip_network(network) for network in networks):
        assert permitted  # what the operator names is let through


@given(any_addresses)
def test_nothing_python_calls_non_global_is_permitted_unless_it_carries_ipv4(address):
    carrying = any(address in row.network for row in SPECIAL_PURPOSE if row.carries)
    if not carrying and (not address.is_global or address.is_multicast):
        assert not FetchPolicy().permits(str(address))


@pytest.mark.parametrize(
    ("allowed", "address"),
    [
        ("64:ff9b:1::/48", "64:ff9b:1::a00:1"),
        ("fec0::/10", "fec0::1"),
        ("10.0.0.0/8", "64:ff9b::a00:1"),  # the IPv4 network reached through NAT64
        ("192.0.0.0/24", "192.0.0.8"),
    ],
)
def test_networks_the_operator_allows_are_still_permitted(allowed, address):
    assert FetchPolicy.allowing([allowed]).permits(address)


@pytest.mark.parametrize("address", ["", "garbage", "300.1.1.1", "1.2.3", "::1::"])
def test_a_string_that_is_no_address_is_not_permitted(address):
    assert not FetchPolicy.allowing(["0.0.0.0/0"]).permits(address)
