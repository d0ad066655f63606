"""Look-alike text, after Unicode Technical Standard #39 (Unicode Security Mechanisms).

The data (default ignorable code points, scripts and script extensions, confusable
prototypes) is Unicode's own, compiled into unicode_data/uts39.json; its README says which
versions and how to regenerate it.
"""

import json
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

COMMON = "Zyyy"
INHERITED = "Zinh"
UNKNOWN = "Zzzz"
# UTS #39's augmented script sets: a Han character also belongs to the writing systems that
# mix Han with another script (Japanese, Korean, Han with Bopomofo), and so on.
_AUGMENTED = {
    "Hani": frozenset({"Hani", "Hanb", "Jpan", "Kore"}),
    "Hira": frozenset({"Hira", "Jpan"}),
    "Kana": frozenset({"Kana", "Jpan"}),
    "Hang": frozenset({"Hang", "Kore"}),
    "Bopo": frozenset({"Bopo", "Hanb"}),
}


@dataclass(frozen=True)
class _Ranges:
    """Sorted, disjoint code point ranges, each with a value."""

    starts: list[int]
    ends: list[int]
    values: list[frozenset[str]]

    @classmethod
    def of(cls, rows: list[list[int]] | list[list[int | str]]) -> "_Ranges":
        return cls(
            [int(row[0]) for row in rows],
            [int(row[1]) for row in rows],
            [frozenset(str(row[2]).split()) if len(row) > 2 else frozenset() for row in rows],
        )

    def find(self, code_point: int) -> frozenset[str] | None:
        at = bisect_right(self.starts, code_point) - 1
        if at >= 0 and code_point <= self.ends[at]:
            return self.values[at]
        return None


@dataclass(frozen=True)
class UnicodeTables:
    ucd_version: str
    confusables_version: str
    default_ignorable: frozenset[str]
    scripts: _Ranges
    script_extensions: _Ranges
    prototypes: dict[str, str]


@cache
def tables() -> UnicodeTables:
    data = json.loads(files("domain").joinpath("unicode_data/uts39.json").read_text("ascii"))
    return UnicodeTables(
        ucd_version=data["ucd_version"],
        confusables_version=data["confusables_version"],
        default_ignorable=frozenset(
            chr(code_point)
            for first, last in data["default_ignorable"]
            for code_point in range(first, last + 1)
        ),
        scripts=_Ranges.of(data["scripts"]),
        script_extensions=_Ranges.of(data["script_extensions"]),
        prototypes=data["confusables"],
    )


def is_default_ignorable(char: str) -> bool:
    """Default_Ignorable_Code_Point: renders as nothing (variation selectors included)."""
    return char in tables().default_ignorable


def without_ignorables(text: str) -> str:
    ignorable = tables().default_ignorable
    return "".join(char for char in text if char not in ignorable)


def skeleton(text: str) -> str:
    """UTS #39's skeleton: NFD, default ignorables removed, each character replaced by its
    confusable prototype, NFD again. Two strings that look alike have the same skeleton."""
    prototypes = tables().prototypes
    decomposed = without_ignorables(unicodedata.normalize("NFD", text))
    mapped = "".join(prototypes.get(char, char) for char in decomposed)
    return unicodedata.normalize("NFD", mapped)


def script_extensions(char: str) -> frozenset[str]:
    """The Script_Extensions of a character (short names): its Script when it has none."""
    found = tables().script_extensions.find(ord(char))
    if found is not None:
        return found
    return tables().scripts.find(ord(char)) or frozenset({UNKNOWN})


def resolved_script_set(word: str) -> frozenset[str] | None:
    """UTS #39's resolved script set of a word, from the augmented script extensions of its
    characters; None stands for every script (only Common and Inherited characters)."""
    resolved: frozenset[str] | None = None
    for char in word:
        extensions = script_extensions(char)
        if COMMON in extensions or INHERITED in extensions:
            continue
        augmented = frozenset().union(*(_AUGMENTED.get(s, {s}) for s in extensions))
        resolved = augmented if resolved is None else resolved & augmented
    return resolved


def mixes_scripts(text: str) -> bool:
    """True when a word of `text` (words are separated by whitespace) mixes scripts: its
    resolved script set is empty. Han with Hiragana or Katakana is Japanese, not mixed."""
    return any(resolved_script_set(word) == frozenset() for word in text.split())
