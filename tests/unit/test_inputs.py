import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.inputs import normalise_email, safe_next_path

HOSTILE_NEXT = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "/%09/evil.example\x00",
    "evil.example",
    "./relative",
    "",
    None,
    "/\uff0f\uff0fevil.example",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("value", HOSTILE_NEXT)
def test_hostile_next_values_are_refused(value):
    assert safe_next_path(value) is None


@pytest.mark.parametrize("value", ["/", "/index", "/user/john?page=2#posts", "/a%2F%2Fb"])
def test_same_site_paths_are_kept(value):
    assert safe_next_path(value) == value


def browser_would_stay_on_site(path: str) -> bool:
    # What a browser does with a Location header: it drops tabs and newlines, reads "\" as "/",
    # and leaves the site when the result starts with "//" or a scheme.
    cleaned = path.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return cleaned.startswith("/") and not cleaned.startswith("//")


@given(st.text())
def test_an_accepted_next_is_a_same_site_path(value):
    accepted = safe_next_path(value)
    assert accepted is None or (accepted == value and browser_would_stay_on_site(value))


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_printable_paths_that_start_with_one_slash_are_kept(rest):
    assume(not rest.startswith(("/", "\\")) and "\\" not in rest)
    path = "/" + rest
    assert safe_next_path(path) == path


@given(st.text(max_size=300))
def test_a_normalised_email_is_none_or_a_plausible_lower_case_address(text):
    email = normalise_email(text)
    if email is not None:
        assert email == email.lower().strip()
        assert email.count("@") >= 1
        assert email.rpartition("@")[0] and "." in email.rpartition("@")[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Alice@Example.COM ", "alice@example.com"), ("a@b", None), ("", None), (None, None)],
)
def test_normalise_email_examples(raw, expected):
    assert normalise_email(raw) == expected
