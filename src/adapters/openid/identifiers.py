from domain.errors import InvalidIdentifier
from domain.inputs import MAX_IDENTIFIER_LENGTH

XRI_PREFIXES = ("=", "@", "+", "$", "!", "(", "xri://")


def parse_identifier(text: str | None) -> str:
    """The OpenID identifier a person typed, trimmed; InvalidIdentifier with a message for
    them when it cannot be one."""
    identifier = (text or "").strip()
    if not identifier:
        raise InvalidIdentifier("Please enter your OpenID identifier.")
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(
            f"That identifier is too long (at most {MAX_IDENTIFIER_LENGTH} characters)."
        )
    if not identifier.isprintable() or any(char.isspace() for char in identifier):
        raise InvalidIdentifier("An identifier cannot contain spaces or control characters.")
    if identifier.lower().startswith(XRI_PREFIXES):
        raise InvalidIdentifier("XRI identifiers (=name, @org) are not supported.")
    return identifier
