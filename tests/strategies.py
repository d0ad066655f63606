from hypothesis import strategies as st

from domain.model import ProviderPolicy

TRICKY_CHARACTERS = (
    "\u202e\u202d\u2066\u2067\u2068\u2069\u200e\u200f"  # bidi overrides and isolates
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width characters, soft hyphen
    "\x00\x07\x1b\x7f\x85\t\n\r\x0b\x0c"  # controls and odd whitespace
    "\u3000\u00a0\u2028\u2029\u1680"  # wide, non-breaking and line/paragraph separators
    "\u3164\u115f\u2800"  # invisible letters
    "\u0301\u0308"  # combining marks
    "\uff21\uff42\u2460\ufb01\u212a\u00df\u0130"  # fullwidth, circled, ligature, Kelvin, sharp s
    "aAbB zZ09_.-"
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

# URLs of OpenID claimed identifiers and their pins, from few parts so that they often share
# some (scheme, host, port, path segments) and differ in others.
url_schemes = st.sampled_from(["http", "https"])
url_hosts = st.sampled_from(["a.example", "A.example", "a.example.evil", "aevil", "127.0.0.1"])
url_ports = st.sampled_from([None, 80, 443, 8080])
path_segments = st.lists(st.sampled_from(["id", "idx", "i", "d", "", ".", "..", "%2e"]), max_size=4)
