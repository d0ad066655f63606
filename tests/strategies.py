import unicodedata

from hypothesis import strategies as st

from domain.lookalikes import script_extensions
from domain.model import ProviderPolicy

# Default ignorable code points: they render as nothing (issue 26's audit used the last eight).
DEFAULT_IGNORABLES = (
    "\u00ad\u200b\u200d\u2060\ufeff\u3164\u115f\u1160\uffa0\U000e0001"
    "\u034f\ufe0f\ufe00\U000e0100\u180b\u180f\u17b4\u17b5"
)

TRICKY_CHARACTERS = (
    "\u202e\u202d\u2066\u2067\u2068\u2069\u200e\u200f"  # bidi overrides and isolates
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width characters, soft hyphen
    "\x00\x07\x1b\x7f\x85\t\n\r\x0b\x0c"  # controls and odd whitespace
    "\u3000\u00a0\u2028\u2029\u1680"  # wide, non-breaking and line/paragraph separators
    "\u3164\u115f\u2800"  # invisible letters
    "\u0301\u0308"  # combining marks
    "\uff21\uff42\u2460\ufb01\u212a\u00df\u0130"  # fullwidth, circled, ligature, Kelvin, sharp s
    "aAbB zZ09_.-"
    "\u034f\ufe0f\ufe00\U000e0100\u180b\u180f\u17b4\u17b5"  # default ignorables
    "\u0430\u0131\u03bd\u0455\u0441\u043e\u0440\u0435mlI1O"  # confusables
)

nickname_texts = st.one_of(
    st.text(),
    st.text(alphabet=TRICKY_CHARACTERS),
    st.text(alphabet=TRICKY_CHARACTERS, min_size=60, max_size=200),
    st.text(min_size=1000, max_size=5000),
    st.sampled_from(["", " ", "\u200b", "\u202e", "Alice", "alice", "ALICE", "ａｌｉｃｅ"]),
)

# Few distinct values so that collisions (same email, same nickname) happen often.
emails = st.one_of(
    st.none(),
    st.builds(
        "{}@{}".format,
        st.sampled_from(["alice", "Alice", "bob", "carol", "\u200b", "x" * 70]),
        st.sampled_from(["example.com", "EXAMPLE.com", "mail.test"]),
    ),
    st.sampled_from(["not-an-email", "", "@example.com", "a@b"]),
)

nicknames = st.one_of(st.none(), st.sampled_from(["alice", "ALICE", "bob", ""]), nickname_texts)

subjects = st.sampled_from([f"https://id.example/{name}" for name in "abcdefgh"])
# OpenID 2.0's one namespace and an OpenID Connect issuer: the same subject in each is another
# identity, and one identity may be reached through several configured providers.
namespaces = st.sampled_from(["openid", "https://issuer.example"])

TRUSTED = ProviderPolicy("trusted", trusted_for_email=True, email_required=True)
UNTRUSTED = ProviderPolicy("untrusted", trusted_for_email=False, email_required=False)
STEAM = ProviderPolicy("steam", fallback_nickname="steam user")
policies = st.sampled_from([TRUSTED, UNTRUSTED, STEAM])


def _letters_by_script() -> dict[frozenset[str], str]:
    """The Basic Multilingual Plane's letters, grouped by their script extensions."""
    letters: dict[frozenset[str], list[str]] = {}
    for char in map(chr, range(0x10000)):
        if unicodedata.category(char).startswith("L"):
            letters.setdefault(script_extensions(char), []).append(char)
    return {scripts: "".join(chars) for scripts, chars in letters.items()}


_LETTERS = _letters_by_script()
_SCRIPTS = ["Latn", "Cyrl", "Grek", "Arab", "Hebr", "Deva", "Thai", "Hang", "Hani", "Hira", "Kana"]

# Words written in one script.
single_script_words = st.sampled_from(_SCRIPTS).flatmap(
    lambda script: st.text(alphabet=_LETTERS[frozenset({script})], min_size=1, max_size=12)
)
# Japanese: Han with Hiragana and Katakana (and the marks they share).
japanese_words = st.text(
    alphabet=_LETTERS[frozenset({"Hani"})][:3000]
    + _LETTERS[frozenset({"Hira"})]
    + _LETTERS[frozenset({"Kana"})]
    + "\u30fc\u3005",
    min_size=1,
    max_size=12,
)


# OpenID identifiers and spellings of each that python3-openid fetches as one URL.
_UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
_segments = st.lists(
    st.text(alphabet=_UNRESERVED, min_size=1, max_size=8).filter(lambda s: s not in {".", ".."}),
    max_size=3,
)


@st.composite
def openid_identifier_spellings(draw: st.DrawFn) -> tuple[str, str]:
    """(an identifier, another spelling of it): scheme and host in other case, the default
    port, an empty port, a fragment, dot segments, unreserved characters percent-encoded,
    no scheme at all."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(
        st.sampled_from(["id.example", "openid.test", "192.0.2.7", "xn--bcher-kva.example"])
    )
    segments = draw(_segments)
    query = draw(st.sampled_from(["", "?a=b"]))
    base = f"{scheme}://{host}/{'/'.join(segments)}{query}"

    def encoded(segment: str) -> str:
        flags = draw(st.lists(st.booleans(), min_size=len(segment), max_size=len(segment)))
        return "".join(
            f"%{ord(c):02{draw(st.sampled_from('xX'))}}" if f else c
            for c, f in zip(segment, flags, strict=True)
        )

    path = [encoded(s) for s in segments]
    # Dot segments before a segment (a last "." or ".." would leave a slash at the end).
    for dots in (".", "gone/.."):
        if path and draw(st.booleans()):
            path.insert(draw(st.integers(0, len(path) - 1)), dots)
    spelled_scheme = draw(st.sampled_from([scheme, scheme.upper(), scheme.capitalize()]))
    # In capitals, or with some characters percent-escaped (python3-openid decodes those in a
    # host after lowering it, so an escaped capital would make another URL).
    spelled_host = draw(st.sampled_from([host, host.upper(), encoded(host)]))
    port = draw(st.sampled_from(["", ":", ":80" if scheme == "http" else ":443"]))
    fragment = draw(st.sampled_from(["", "#", "#me", "#a/b"]))
    spelling = f"{spelled_scheme}://{spelled_host}{port}/{'/'.join(path)}{query}{fragment}"
    if scheme == "http" and draw(st.booleans()):
        spelling = spelling.split("://", 1)[1]
    return base, spelling


ipv6_addresses = st.ip_addresses(v=6)
client_addresses = st.one_of(
    st.ip_addresses().map(str),
    st.text(max_size=60),
    st.sampled_from(["", "garbage", "fe80::1%eth0", "::ffff:10.0.0.1", "1.2.3.4.5", "::ffff:zz"]),
)


# URLs of OpenID claimed identifiers and their pins, from few parts so that they often share
# some (scheme, host, port, path segments) and differ in others.
url_schemes = st.sampled_from(["http", "https"])
url_hosts = st.sampled_from(["a.example", "A.example", "a.example.evil", "aevil", "127.0.0.1"])
url_ports = st.sampled_from([None, 80, 443, 8080])
path_segments = st.lists(st.sampled_from(["id", "idx", "i", "d", "", ".", "..", "%2e"]), max_size=4)

# JSON as providers send it: any value, nested a little.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# GitHub's /user/emails entries, with the flags in every JSON shape a provider might send.
_flags = st.sampled_from([True, False, None, 1, 0, "true", "false"])
github_email_entries = st.one_of(
    st.fixed_dictionaries(
        {"email": st.sampled_from(["a@example.com", "b@example.com", "", None, 7])},
        optional={"primary": _flags, "verified": _flags, "visibility": st.none()},
    ),
    json_values,
)
# Caching headers as providers send them, and as they might garble them.
_directives = st.sampled_from(
    ["max-age=60", "MAX-AGE=60", "max-age=0", "max-age=-5", "max-age=abc", "max-age=", "public",
     "private", "no-store", "No-Cache", 'no-cache="set-cookie"', "must-revalidate", "s-maxage=9",
     'max-age="30"', "max-age=99999999999999999999", "\u0661\u0662", ",", ""]
)  # fmt: skip
cache_control_values = st.one_of(
    st.lists(_directives, max_size=4).map(", ".join), st.text(max_size=40)
)
http_dates = st.one_of(
    st.sampled_from(
        ["Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 08:28:00 GMT", "0", "-1", "",
         "Wednesday, 21-Oct-15 07:28:00 GMT", "Wed Oct 21 07:28:00 2015", "31 Feb 2015"]
    ),
    st.text(max_size=40),
)  # fmt: skip
caching_headers = st.fixed_dictionaries(
    {},
    optional={
        "cache-control": cache_control_values,
        "expires": http_dates,
        "date": http_dates,
        "age": st.one_of(st.sampled_from(["0", "30", "-1", "x", "\u0663"]), st.text(max_size=5)),
        "vary": st.sampled_from(["*", "Accept", "accept, *", "", "Accept-Encoding"]),
    },
)
