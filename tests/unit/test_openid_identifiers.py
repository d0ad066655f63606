import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openid import fetchers
from openid.consumer.discover import DiscoveryFailure, discover

from adapters.openid.fetcher import fetching_with
from adapters.openid.identifiers import identifier_key, lower_case_authority, parse_identifier
from domain.errors import InvalidIdentifier
from domain.inputs import MAX_IDENTIFIER_LENGTH
from tests.strategies import openid_identifier_spellings


@given(st.text(min_size=1, max_size=200))
def test_an_identifier_is_either_accepted_trimmed_or_refused_with_a_message(text):
    try:
        identifier = parse_identifier(text)
    except InvalidIdentifier as refused:
        assert refused.message
    else:
        assert identifier == text.strip()
        assert identifier.isprintable()
        assert not any(c.isspace() for c in identifier)
        assert not identifier.startswith(("=", "@", "xri://"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 10_000,
        "https://id.example/\x00me",
        "a b",
        "id\u202e",
        "=xri.name",
        "@org",
        "XRI://=name",
    ],
)
def test_bad_identifiers_are_refused(text):
    with pytest.raises(InvalidIdentifier):
        parse_identifier(text)


def test_an_identifier_may_be_as_long_as_the_limit():
    assert parse_identifier("x" * MAX_IDENTIFIER_LENGTH) == "x" * MAX_IDENTIFIER_LENGTH


class _RecordingFetcher(fetchers.HTTPFetcher):  # type: ignore[misc]
    """Notes the URL python3-openid fetches for an identifier, and answers 404."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def fetch(self, url, body=None, headers=None):
        self.urls.append(url)
        return fetchers.HTTPResponse(url, 404, {}, "")


def fetched_by_python3_openid(identifier: str) -> str:
    """The URL python3-openid's discovery fetches first for `identifier`."""
    fetcher = _RecordingFetcher()
    with fetching_with(fetcher), pytest.raises(DiscoveryFailure):
        discover(identifier)
    return fetcher.urls[0]


SPELLINGS_OF_ALICE = [
    "http://192.0.2.1/alice",
    "http://192.0.2.1/alice#fragment",
    "http://192.0.2.1/alice#",
    "http://192.0.2.1:80/alice",
    "http://192.0.2.1:/alice",
    "http://192.0.2.1/./alice",
    "http://192.0.2.1/bob/../alice",
    "http://192.0.2.1/%61lice",
    "http://192.0.2.1/%61%6C%69%63%65",
    "192.0.2.1/alice",
    "HTTP://192.0.2.1/alice",
    "Http://192.0.2.1:80/./%61lice#me",
]


@pytest.mark.parametrize("spelling", SPELLINGS_OF_ALICE)
def test_spellings_python3_openid_fetches_as_one_url_get_one_identifier_key(spelling):
    assert fetched_by_python3_openid(spelling) == "http://192.0.2.1/alice"
    assert identifier_key(spelling) == "http://192.0.2.1/alice"


# No deadline: python3-openid's discovery runs in each example, slow on a busy machine.
@settings(deadline=None)
@given(openid_identifier_spellings())
def test_every_spelling_python3_openid_normalises_alike_gets_the_same_key(identifier_and_spelling):
    identifier, spelling = identifier_and_spelling
    assert fetched_by_python3_openid(spelling) == fetched_by_python3_openid(identifier)
    assert identifier_key(spelling) == identifier_key(identifier) is not None


# No deadline: python3-openid's discovery runs in each example, slow on a busy machine.
@settings(deadline=None)
@given(st.text(max_size=300))
def test_an_identifier_key_is_python3_openids_url_or_none_and_never_an_error(text):
    key = identifier_key(text)
    if key is not None:
        assert key == lower_case_authority(fetched_by_python3_openid(text.strip()))


def test_a_host_spelt_with_percent_escapes_of_capitals_gets_the_plain_hosts_key():
    assert fetched_by_python3_openid("https://ex%41mple.com/x") == "https://exAmple.com/x"
    assert identifier_key("https://ex%41mple.com/x") == identifier_key("https://example.com/x")


@pytest.mark.parametrize(
    "text", ["", "   ", "=xri.name", "ftp://id.example/", "http://[::1/", "x" * 10_000, "a b"]
)
def test_what_cannot_be_an_openid_identifier_has_no_identifier_key(text):
    assert identifier_key(text) is None
