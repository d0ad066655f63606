import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.openid.identifiers import parse_identifier
from domain.errors import InvalidIdentifier
from domain.inputs import MAX_IDENTIFIER_LENGTH


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
