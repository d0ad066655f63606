import itertools
import unicodedata
from collections.abc import Callable, Iterable

from domain.lookalikes import is_default_ignorable, mixes_scripts, skeleton

MAX_NICKNAME_LENGTH = 64
# A key is longer than its nickname (casefolding and confusable prototypes expand: "m" is
# "rn"); nicknames are cut so that their keys fit in the store's column.
MAX_NICKNAME_KEY_LENGTH = 256
LAST_RESORT_NICKNAME = "user"

# Letters that render as nothing but are not in a "C" category, so NFKC and the category
# filter keep them: Hangul fillers, the Braille blank, the Mongolian vowel separator.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def _is_visible(char: str) -> bool:
    # Every "C" category: controls, formats (bidi overrides, zero-widths), surrogates,
    # private use and unassigned code points; and every Default_Ignorable_Code_Point, which
    # renders as nothing: variation selectors, the combining grapheme joiner, Khmer's
    # inherent vowels, Mongolian free variation selectors, Hangul fillers.
    return (
        not unicodedata.category(char).startswith("C")
        and char not in _INVISIBLE_LETTERS
        and not is_default_ignorable(char)
    )


def normalise_nickname(
    text: str,
    max_length: int = MAX_NICKNAME_LENGTH,
    max_key_length: int = MAX_NICKNAME_KEY_LENGTH,
) -> str:
    """NFKC, invisible characters removed, whitespace collapsed, at most `max_length` long
    with a key (`nickname_key`) at most `max_key_length` long.

    The result may be empty; `choose_nickname` decides what to do then.
    """
    spaced = " ".join(unicodedata.normalize("NFKC", text).split())
    cleaned = "".join(filter(_is_visible, spaced))
    # Removing a character can bring a base and a combining mark together: normalise again.
    collapsed = " ".join(unicodedata.normalize("NFKC", cleaned).split())
    return _fit(collapsed, max_length, max_key_length)


def _fit(text: str, max_length: int, max_key_length: int) -> str:
    fitted = text
    # Cutting can leave a trailing space or, rarely, a sequence NFKC writes differently.
    while len(fitted) > max_length or fitted != unicodedata.normalize("NFKC", fitted):
        fitted = unicodedata.normalize("NFKC", fitted[:max_length]).strip()
    while len(nickname_key(fitted)) > max_key_length:
        fitted = unicodedata.normalize("NFKC", fitted[:-1]).strip()
    return fitted


def nickname_key(nickname: str) -> str:
    """The form in which two nicknames are compared: equal keys mean the same nickname, or
    two that look alike.

    The UTS #39 skeleton of the case-folded NFKC form, case-folded again and in NFC:
    "Admin", "ADMIN", "\u0430dmin" (Cyrillic a), "adm\u0131n" (dotless i) and "adrnin"
    share the key "adrnin". Default ignorable code points count for nothing. Digits stay
    digits except 0 and 1, which read as "o" and "l".
    """
    folded = unicodedata.normalize("NFKC", nickname.casefold())
    return unicodedata.normalize("NFC", skeleton(folded).casefold())


def is_mixed_script(nickname: str) -> bool:
    """A word that mixes scripts (Latin with Cyrillic, say) hides a look-alike: such a
    nickname counts as taken. Han with Hiragana or Katakana is Japanese, not mixed."""
    return mixes_scripts(nickname)


def email_local_part(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[0]


def choose_nickname(candidates: Iterable[str | None]) -> str:
    """The first candidate that is still non-empty once normalised and does not mix scripts
    within a word, else a last resort."""
    for candidate in candidates:
        if candidate:
            nickname = normalise_nickname(candidate)
            if nickname and not is_mixed_script(nickname):
                return nickname
    return LAST_RESORT_NICKNAME


# The keys of the digits read back as digits: a key holds "o" for 0 and "l" for 1.
_DIGIT_OF_KEY = str.maketrans({nickname_key(digit): digit for digit in "0123456789"})


def first_suffix(base_key: str, taken_keys: Iterable[str]) -> int:
    """The first number to hand out after the nickname `base_key`: one more than the highest
    number any taken key adds to it ("gamer", {"gamer", "gamer7"} -> 8), 2 if none does.

    Keys write 0 and 1 as "o" and "l", so "gamerlo" counts as gamer10: a nickname typed as
    letters only moves the count further on, never back."""
    numbers = [1]
    for key in taken_keys:
        rest = key[len(base_key) :].translate(_DIGIT_OF_KEY)
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
        digits = len(str(suffix))
        base = normalise_nickname(
            nickname, MAX_NICKNAME_LENGTH - digits, MAX_NICKNAME_KEY_LENGTH - digits
        )
        candidate = f"{base}{suffix}"
        if not is_taken(nickname_key(candidate)):
            return candidate
