import string
from urllib.parse import urlsplit

# What a person may type for a provider that takes an identifier; the adapter parses it.
MAX_IDENTIFIER_LENGTH = 2048
MAX_EMAIL_LENGTH = 254
# An identity's subject (an OpenID claimed identifier, an OIDC `sub`) and its namespace.
MAX_SUBJECT_LENGTH = 2048
MAX_NAMESPACE_LENGTH = 255
# A provider's own session id (an ID token's `sid`, say), kept with the sessions it opened.
MAX_PROVIDER_SESSION_LENGTH = 255
MAX_HANDLE_LENGTH = 255
MAX_NEXT_LENGTH = 2048


def _is_printable_ascii(text: str) -> bool:
    return all("\x21" <= char <= "\x7e" for char in text)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def normalise_email(text: str | None) -> str | None:
    """A plausible address in the form that compares mailboxes, or None for anything else
    (it is then ignored).

    Only ASCII letters are lower-cased: in the domain, and in a local part that is all
    ASCII. A local part with any other character is kept exactly as given, and a domain's
    other characters too (no IDNA mapping): Unicode case mappings merge different addresses
    (str.lower() turns U+212A KELVIN SIGN into "k")."""
    stripped = (text or "").strip()
    local, at, domain = stripped.rpartition("@")
    if local.isascii():
        local = local.translate(_ASCII_LOWER)
    email = f"{local}{at}{domain.translate(_ASCII_LOWER)}"
    if not email or len(email) > MAX_EMAIL_LENGTH or not email.isprintable():
        return None
    if not at or not local or "." not in domain.strip(".") or any(c.isspace() for c in email):
        return None
    return email


def safe_next_path(value: str | None) -> str | None:
    """`value` if it is a path on this site ("/index?page=2"), else None.

    Browsers read "//host", "/\\host" and paths with tabs or newlines as other sites, so
    only printable ASCII without backslashes, starting with a single "/", is accepted.
    """
    if not value or len(value) > MAX_NEXT_LENGTH or not _is_printable_ascii(value):
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
