from urllib.parse import SplitResult, unquote, urlparse, urlsplit

from openid.consumer.discover import DiscoveryFailure, normalizeURL

from domain.errors import InvalidIdentifier
from domain.inputs import MAX_IDENTIFIER_LENGTH

XRI_PREFIXES = ("=", "@", "+", "$", "!", "(", "xri://")
DEFAULT_PORTS = {"http": 80, "https": 443}


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


def claimed_id_prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot pin claimed identifiers, or None when it can: an http(s) URL
    with a host, no user name or password, no query or fragment, and a path ending in "/",
    so that it ends on a segment boundary."""
    parts = _split(prefix)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL such as https://op.example/id/"
    if "@" in parts.netloc:
        return "must not contain a user name or password (user@host)"
    if "?" in prefix or "#" in prefix:
        return "must not contain a query (?) or a fragment (#)"
    if not parts.path:
        return f"has no path: write the path its identifiers start with, such as {prefix}/id/"
    if not parts.path.endswith("/"):
        return 'must end its path with "/" (such as https://op.example/id/)'
    if _has_dot_segments(parts.path):
        return 'must not contain "." or ".." path segments'
    return None


def is_under_prefix(claimed_id: str, prefix: str) -> bool:
    """Whether `claimed_id` lies under `prefix`, compared as parsed URLs: the same scheme,
    host and port, no user name or password, and a path that starts with the prefix's path
    where one of its segments ends. Text that merely starts like the prefix (user info such
    as http://A@E/, a longer host such as http://A.evil/) is not under it."""
    claimed, pin = _split(claimed_id), _split(prefix)
    if claimed is None or pin is None or "@" in claimed.netloc or "@" in pin.netloc:
        return False
    origin, pinned_origin = _origin(claimed), _origin(pin)
    if not pin.hostname or origin != pinned_origin:
        return False
    path, pinned_path = claimed.path or "/", pin.path or "/"
    if _has_dot_segments(path):
        return False
    if not pinned_path.endswith("/"):
        return path == pinned_path or path.startswith(pinned_path + "/")
    return path.startswith(pinned_path)


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return None
    return parts


def _origin(parts: SplitResult) -> tuple[str, str | None, int | None]:
    return parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme)


def _has_dot_segments(path: str) -> bool:
    return any(unquote(segment) in (".", "..") for segment in path.split("/"))
