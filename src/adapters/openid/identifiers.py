from urllib.parse import urlparse

from openid.consumer.discover import DiscoveryFailure, normalizeURL

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


def identifier_key(text: str | None) -> str | None:
    """The URL python3-openid's discovery fetches for a typed identifier, as its
    `discoverURI` makes it (http:// added when there is no scheme and host, then
    `normalizeURL`), with its authority in lower case (python3-openid turns `%41` in a host
    into `A`): every spelling of one identifier gets one key. None when the text cannot be
    an identifier."""
    try:
        identifier = parse_identifier(text)
        parsed = urlparse(identifier)
        if not (parsed.scheme and parsed.netloc):
            identifier = "http://" + identifier
        return lower_case_authority(str(normalizeURL(identifier)))
    except (InvalidIdentifier, DiscoveryFailure, ValueError):
        return None


def lower_case_authority(url: str) -> str:
    """`url` (scheme://authority/path...) with its authority in lower case."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.lower()}{slash}{path}"
