"""Provider answers reused only while their caching headers allow (adapters.http.caching)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given

from adapters.http.caching import ResponseCache, freshness_seconds
from adapters.http.client import HttpResponse
from tests.fakes import FakeSeconds
from tests.strategies import caching_headers

NOW = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
DEFAULT, LONGEST = 3600.0, 86400.0


def fresh_for(**headers: str) -> float:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return freshness_seconds(named, NOW, default=DEFAULT, longest=LONGEST)


@given(caching_headers)
def test_any_headers_give_a_lifetime_between_none_and_the_longest_without_raising(headers):
    assert 0 <= freshness_seconds(headers, NOW, default=DEFAULT, longest=LONGEST) <= LONGEST


@given(caching_headers)
def test_no_store_and_no_cache_are_never_reused_whatever_else_is_said(headers):
    for forbidding in ("no-store", "NO-CACHE", 'no-cache="set-cookie"'):
        control = f"max-age=600, {forbidding}, {headers.get('cache-control', '')}"
        assert (
            freshness_seconds(
                headers | {"cache-control": control}, NOW, default=DEFAULT, longest=LONGEST
            )
            == 0
        )


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, DEFAULT),
        ({"cache_control": "max-age=60"}, 60),
        ({"cache_control": "Max-Age=60, private"}, 60),
        ({"cache_control": "max-age=60", "age": "20"}, 40),
        ({"cache_control": "max-age=60", "expires": "0"}, 60),  # max-age wins over Expires
        ({"cache_control": "max-age=99999999"}, LONGEST),
        ({"cache_control": "max-age=0"}, 0),
        ({"cache_control": "max-age=-5"}, 0),
        ({"cache_control": "max-age=abc"}, 0),
        ({"cache_control": "no-store"}, 0),
        ({"cache_control": "no-cache"}, 0),
        ({"vary": "Accept, *"}, 0),
        ({"expires": "Wed, 21 Oct 2015 07:38:00 GMT"}, 600),
        (
            {"expires": "Wed, 21 Oct 2015 08:00:00 GMT", "date": "Wed, 21 Oct 2015 07:50:00 GMT"},
            600,
        ),
        ({"expires": "Wed, 21 Oct 2015 07:00:00 GMT"}, 0),
        ({"expires": "0"}, 0),
    ],
)
def test_the_lifetime_is_what_the_provider_says(headers, seconds):
    assert fresh_for(**headers) == seconds


def answer(body: bytes = b"<xrds/>", status: int = 200, **headers: str) -> HttpResponse:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return HttpResponse("https://op.example/", status, named, body)


def cache(clock: FakeSeconds, capacity: int = 1000) -> ResponseCache:
    return ResponseCache(capacity_bytes=capacity, now=lambda: NOW, monotonic=clock)


def test_an_answer_is_reused_until_its_lifetime_ends():
    clock = FakeSeconds(100.0)
    kept = cache(clock)
    kept.keep("k", answer(cache_control="max-age=60"))
    clock.now += 59
    assert kept.get("k") == answer(cache_control="max-age=60")
    clock.now += 1
    assert kept.get("k") is None


@pytest.mark.parametrize("status", [201, 301, 304, 400, 404, 500, 503])
def test_an_error_or_any_answer_but_200_is_never_kept(status):
    kept = cache(FakeSeconds(100.0))
    kept.keep("k", answer(status=status, cache_control="max-age=60"))
    assert kept.get("k") is None


def test_an_answer_the_provider_forbids_keeping_is_not_kept():
    kept = cache(FakeSeconds(100.0))
    kept.keep("k", answer(cache_control="no-store"))
    assert kept.get("k") is None


def test_each_key_keeps_its_own_answer():
    kept = cache(FakeSeconds(100.0))
    kept.keep("https://op.example/id/alice", answer(b"alice"))
    assert kept.get("https://op.example/id/alice/") is None
    assert kept.get("https://op.example/id/alice").body == b"alice"


def test_the_least_recently_used_answers_go_first_when_the_bodies_outgrow_the_capacity():
    kept = cache(FakeSeconds(100.0), capacity=10)
    kept.keep("a", answer(b"aaaa"))
    kept.keep("b", answer(b"bbbb"))
    kept.get("a")
    kept.keep("c", answer(b"cccc"))
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (answer(b"aaaa"), None, answer(b"cccc"))
    kept.keep("huge", answer(b"x" * 11))
    assert kept.get("huge") is None and kept.get("c") is not None
