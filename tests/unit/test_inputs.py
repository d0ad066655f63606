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
def test_a_normalised_email_is_none_or_a_plausible_address_in_ascii_lower_case(text):
    email = normalise_email(text)
    if email is not None:
        assert email == ascii_lower(email).strip()
        assert email.count("@") >= 1
        assert email.rpartition("@")[0] and "." in email.rpartition("@")[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Alice@Example.COM ", "alice@example.com"), ("a@b", None), ("", None), (None, None)],
)
def test_normalise_email_examples(raw, expected):
    assert normalise_email(raw) == expected


def ascii_lower(text: str) -> str:
    return "".join(char.lower() if char.isascii() else char for char in text)


def test_a_kelvin_sign_address_is_not_kates_address():
    """str.lower() turned U+212A KELVIN SIGN into "k": "\u212aate@example.com" signed in to
    the account of kate@example.com."""
    assert normalise_email("\u212aate@example.com") == "\u212aate@example.com"
    assert normalise_email("\u212aate@example.com") != normalise_email("kate@example.com")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Kate@Example.COM", "kate@example.com"),
        ("\u00c5sa@Example.com", "\u00c5sa@example.com"),  # non-ASCII local part: as given
        ("STRA\u00dfE@example.com", "STRA\u00dfE@example.com"),
        ("kate@EXAMPLE.\u212aom", "kate@example.\u212aom"),  # only ASCII is lower-cased
        ("\u0130nci@example.com", "\u0130nci@example.com"),
    ],
)
def test_only_ascii_is_lower_cased_and_a_non_ascii_local_part_is_kept_as_given(raw, expected):
    assert normalise_email(raw) == expected


def same_mailbox(first: str, second: str) -> bool:
    """The rule (docs/design.md): domains compare ignoring ASCII case only; a local part
    that is all ASCII compares ignoring ASCII case, any other compares exactly."""
    local_1, _, domain_1 = first.strip().rpartition("@")
    local_2, _, domain_2 = second.strip().rpartition("@")
    if ascii_lower(domain_1) != ascii_lower(domain_2):
        return False
    if local_1.isascii() and local_2.isascii():
        return ascii_lower(local_1) == ascii_lower(local_2)
    return local_1 == local_2


# Letters that some case mapping (str.lower, casefold) takes to one another.
VARIANTS = [
    "kK\u212a",  # Kelvin sign
    "iI\u0131\u0130",  # dotless i, dotted capital I
    "sS\u017f",  # long s
    "\u00e5\u00c5\u212b",  # angstrom sign
    "\u00df",
    "aA",
    "tT",
    ".",
]
DOMAINS = ["example.com", "EXAMPLE.com", "Example.Com", "example.\u212aom", "exampl\u00e9.com"]


@st.composite
def address_pairs(draw):
    """Two addresses alike letter for letter: each letter of one is a case variant of the
    other's, so that any case mapping might merge them."""
    groups = draw(st.lists(st.sampled_from(VARIANTS), min_size=1, max_size=8))
    local_1 = "".join(draw(st.sampled_from(group)) for group in groups)
    local_2 = "".join(draw(st.sampled_from(group)) for group in groups)
    return (
        f"{local_1}@{draw(st.sampled_from(DOMAINS))}",
        f"{local_2}@{draw(st.sampled_from(DOMAINS))}",
    )


@given(address_pairs())
def test_two_addresses_normalise_to_one_only_when_they_are_one_mailbox(pair):
    first, second = pair
    one, other = normalise_email(first), normalise_email(second)
    assert one is not None and other is not None
    assert (one == other) == same_mailbox(first, second)


@given(address_pairs())
def test_normalising_an_email_twice_changes_nothing(pair):
    once = normalise_email(pair[0])
    assert normalise_email(once) == once
