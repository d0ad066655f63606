import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.openid.identifiers import claimed_id_prefix_problem, is_under_prefix
from tests.strategies import path_segments, url_hosts, url_ports, url_schemes

DEFAULT_PORTS = {"http": 80, "https": 443}


def url(scheme, host, port, segments, userinfo=""):
    netloc = f"{userinfo}{host}" + (f":{port}" if port else "")
    return f"{scheme}://{netloc}/" + "/".join(segments)


def has_dot_segments(segments):
    return any(segment in (".", "..", "%2e") for segment in segments)


@given(url_schemes, url_hosts, url_ports, path_segments, path_segments)
def test_an_identifier_is_under_a_prefix_when_its_path_starts_with_the_prefixs_segments(
    scheme, host, port, pinned, segments
):
    prefix = url(scheme, host, port, [*pinned, ""])
    claimed = url(scheme, host, port, segments)
    segments = segments or [""]  # the path "/"
    expected = (
        len(segments) > len(pinned)
        and segments[: len(pinned)] == pinned
        and not has_dot_segments(segments)
    )
    assert is_under_prefix(claimed, prefix) == expected, (claimed, prefix)


@given(
    url_schemes,
    url_hosts,
    url_ports,
    path_segments,
    st.text(alphabet="aA.@-_x%", min_size=1, max_size=12),
    st.sampled_from(["", "/", "/id/mallory", "?q", "#f"]),
)
def test_what_only_starts_like_the_prefix_text_is_not_under_it(
    scheme, host, port, pinned, tail, rest
):
    # "http://A" + ".evil", "evil", "@E", and "http://A/id" + "x/...": another host, a user
    # name, or a path segment that only begins like the prefix's last one.
    prefix = url(scheme, host, port, [*pinned, ""])
    assert not is_under_prefix(prefix.rstrip("/") + tail + rest, prefix)


@given(url_schemes, url_hosts, url_ports, path_segments, url_schemes, url_hosts, url_ports)
def test_an_identifier_on_another_scheme_host_or_port_is_never_under_a_prefix(
    scheme, host, port, segments, other_scheme, other_host, other_port
):
    prefix = url(scheme, host, port, ["id", ""])
    claimed = url(other_scheme, other_host, other_port, ["id", "x", *segments])
    same_origin = (scheme, host.lower(), port or DEFAULT_PORTS[scheme]) == (
        other_scheme,
        other_host.lower(),
        other_port or DEFAULT_PORTS[other_scheme],
    )
    assert is_under_prefix(claimed, prefix) == (same_origin and not has_dot_segments(segments))


@given(url_schemes, url_hosts, url_ports, path_segments, st.sampled_from(["", "user", "a:b", "@"]))
def test_an_identifier_with_a_user_name_or_password_is_never_under_a_prefix(
    scheme, host, port, segments, user
):
    prefix = url(scheme, host, port, [""])
    claimed = url(scheme, host, port, segments, userinfo=f"{user}@")
    assert not is_under_prefix(claimed, prefix)


@pytest.mark.parametrize(
    ("claimed_id", "prefix"),
    [
        ("http://127.0.0.1:5001@127.0.0.1:6666/id/mallory", "http://127.0.0.1:5001"),
        ("http://a.example@evil.example/id/mallory", "http://a.example/"),
        ("http://a.example.evil/id/mallory", "http://a.example"),
        ("http://a.exampleevil/", "http://a.example"),
        ("http://a.example:8080/id/mallory", "http://a.example"),
        ("http://a.example/idx/mallory", "http://a.example/id"),
        ("http://a.example/idx/mallory", "http://a.example/id/"),
        ("http://a.example/id/../admin", "http://a.example/id/"),
        ("https://a.example/id/mallory", "http://a.example/id/"),
        ("http://a.example\\@evil.example/id/", "http://a.example/"),
        ("http://a.example:notaport/id/", "http://a.example/"),
        ("not a url", "http://a.example/"),
    ],
)
def test_what_only_starts_like_the_prefix_is_not_under_it(claimed_id, prefix):
    assert not is_under_prefix(claimed_id, prefix)


@pytest.mark.parametrize(
    ("claimed_id", "prefix"),
    [
        ("https://steamcommunity.com/openid/id/7656", "https://steamcommunity.com/openid/id/"),
        ("http://A.example/id/alice#frag", "http://a.example/id/"),
        ("http://a.example:80/id/alice", "http://a.example/id/"),
        ("http://a.example/id", "http://a.example/id"),
        ("http://a.example/id/alice", "http://a.example/id"),
        ("http://a.example/", "http://a.example"),
    ],
)
def test_identifiers_under_the_prefix_are(claimed_id, prefix):
    assert is_under_prefix(claimed_id, prefix)


@pytest.mark.parametrize(
    "prefix",
    [
        "http://127.0.0.1:5001",
        "https://op.example",
        "https://op.example/id",
        "https://user@op.example/id/",
        "https://op.example/id/?x=1",
        "https://op.example/id/#x",
        "https://op.example/id/../",
        "https://op.example:port/id/",
        "ftp://op.example/id/",
    ],
)
def test_a_prefix_that_cannot_pin_identifiers_is_refused(prefix):
    assert claimed_id_prefix_problem(prefix)


@given(url_schemes, url_hosts, url_ports, path_segments)
def test_an_accepted_prefix_pins_itself_and_what_lies_under_it(scheme, host, port, segments):
    prefix = url(scheme, host, port, [*segments, ""])
    if claimed_id_prefix_problem(prefix) is None:
        assert is_under_prefix(prefix, prefix)
        assert is_under_prefix(prefix + "alice", prefix)
