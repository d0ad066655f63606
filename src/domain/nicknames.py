import itertools
import unicodedata
from collections.abc import Callable, Iterable

MAX_NICKNAME_LENGTH = 64
LAST_RESORT_NICKNAME = "user"

# Letters that render as nothing but are not in a "C" category, so NFKC and the category
# filter keep them: Hangul fillers, the Braille blank, the Mongolian vowel separator.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def _is_visible(char: str) -> bool:
    # Every "C" category: controls, formats (bidi overrides, zero-widths), surrogates,
    # private use and unassigned code points.
    return not unicodedata.category(char).startswith("C") and char not in _INVISIBLE_LETTERS


def normalise_nickname(text: str, max_length: int = MAX_NICKNAME_LENGTH) -> str:
    """NFKC, invisible characters removed, whitespace collapsed, at most `max_length` long.

    The result may be empty; `choose_nickname` decides what to do then.
    """
    spaced = " ".join(unicodedata.normalize("NFKC", text).split())
    cleaned = "".join(filter(_is_visible, spaced))
    # Removing a character can bring a base and a combining mark together: normalise again.
    collapsed = " ".join(unicodedata.normalize("NFKC", cleaned).split())
    return _fit(collapsed, max_length)


def _fit(text: str, max_length: int) -> str:
    fitted = text
    # Cutting can leave a trailing space or, rarely, a sequence NFKC writes differently.
    while len(fitted) > max_length or fitted != unicodedata.normalize("NFKC", fitted):
        fitted = unicodedata.normalize("NFKC", fitted[:max_length]).strip()
    return fitted


def nickname_key(nickname: str) -> str:
    """The form in which two nicknames are compared: equal keys mean the same nickname."""
    return unicodedata.normalize("NFKC", nickname.casefold())


def email_local_part(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[0]


def choose_nickname(candidates: Iterable[str | None]) -> str:
    """The first candidate that is still non-empty once normalised, else a last resort."""
    for candidate in candidates:
        if candidate:
            nickname = normalise_nickname(candidate)
            if nickname:
                return nickname
    return LAST_RESORT_NICKNAME


def first_suffix(base_key: str, taken_keys: Iterable[str]) -> int:
    """The first number to hand out after the nickname `base_key`: one more than the highest
    number any taken key adds to it ("gamer", {"gamer", "gamer7"} -> 8), 2 if none does."""
    numbers = [1]
    for key in taken_keys:
        rest = key[len(base_key) :]
        if key.startswith(base_key) and rest.isascii() and rest.isdigit() and rest[0] != "0":
            numbers.append(int(rest))
    return max(numbers) + 1


def make_unique(
    nickname: str,
    is_taken: Callable[[str], bool],
    next_suffix: Callable[[str], int] | None = None,
) -> str:
    """`nickname` itself if free, else `nickname2`, `nickname3`, ... skipping taken ones.

    `is_taken` receives a nickname key (see `nickname_key`). `next_suffix(key)` hands out the
    numbers to try for the nickname with that key: 2, then one more on each call. Kept by the
    store, it makes the thousandth "gamer" as cheap as the second; without it, the numbers
    start at 2 on every call. The base is shortened when needed so the suffixed form still
    fits in MAX_NICKNAME_LENGTH.
    """
    key = nickname_key(nickname)
    if not is_taken(key):
        return nickname
    counted_from_two = itertools.count(2)
    while True:
        suffix = next_suffix(key) if next_suffix else next(counted_from_two)
        base = normalise_nickname(nickname, MAX_NICKNAME_LENGTH - len(str(suffix)))
        candidate = f"{base}{suffix}"
        if not is_taken(nickname_key(candidate)):
            return candidate
