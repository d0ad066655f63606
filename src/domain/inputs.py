from urllib.parse import urlsplit

# What a person may type for a provider that takes an identifier; the adapter parses it.
MAX_IDENTIFIER_LENGTH = 2048
MAX_EMAIL_LENGTH = 254
# An identity's subject (an OpenID claimed identifier, an OIDC `sub`) and its namespace.
MAX_SUBJECT_LENGTH = 2048
MAX_NAMESPACE_LENGTH = 255
MAX_NEXT_LENGTH = 2048


def _is_printable_ascii(text: str) -> bool:
    return all("\x21" <= char <= "\x7e" for char in text)


def normalise_email(text: str | None) -> str | None:
    """A plausible address in lower case, or None for anything else (it is then ignored)."""
    email = (text or "").strip().lower()
    if not email or len(email) > MAX_EMAIL_LENGTH or not email.isprintable():
        return None
    local, at, domain = email.rpartition("@")
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
