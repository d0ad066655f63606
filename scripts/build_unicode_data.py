"""Compile the Unicode data the nickname rules need into src/domain/unicode_data/uts39.json.

Usage: python scripts/build_unicode_data.py UCD_DIR CONFUSABLES_TXT

UCD_DIR holds Scripts.txt, ScriptExtensions.txt, DerivedCoreProperties.txt and
PropertyValueAliases.txt (Debian's package unicode-data installs them in /usr/share/unicode);
CONFUSABLES_TXT is UTS #39's confusables.txt. src/domain/unicode_data/README.md says where the
pinned versions come from. The output keeps only what the domain reads: the
Default_Ignorable_Code_Point ranges, each code point's script and script extensions (as
ranges, short script names) and the confusable prototypes.
"""

import json
import re
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "src/domain/unicode_data/uts39.json"
_VERSION = re.compile(r"^#\s*(?:Version:\s*|\w+-)(\d+\.\d+\.\d+)")


def _lines(path: Path) -> list[list[str]]:
    """The data lines of a UCD-style file, split on ";", comments and blanks dropped."""
    rows = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        data = line.split("#", 1)[0].strip()
        if data:
            rows.append([field.strip() for field in data.split(";")])
    return rows


def _version(path: Path) -> str:
    for line in path.read_text(encoding="utf-8-sig").splitlines()[:12]:
        found = _VERSION.match(line)
        if found:
            return found.group(1)
    raise SystemExit(f"{path}: no Unicode version in its header")


def _range(field: str) -> tuple[int, int]:
    first, _, last = field.partition("..")
    return int(first, 16), int(last or first, 16)


def _merged(ranges: list[tuple[int, int, str]]) -> list[list[int | str]]:
    """Sorted ranges with adjacent ones of the same value joined."""
    merged: list[list[int | str]] = []
    for first, last, value in sorted(ranges):
        if merged and merged[-1][2] == value and merged[-1][1] == first - 1:
            merged[-1][1] = last
        else:
            merged.append([first, last, value])
    return merged


def build(ucd: Path, confusables_txt: Path) -> dict[str, object]:
    short_name = {
        row[2]: row[1] for row in _lines(ucd / "PropertyValueAliases.txt") if row[0] == "sc"
    }
    scripts = [(*_range(row[0]), short_name[row[1]]) for row in _lines(ucd / "Scripts.txt")]
    extensions = [(*_range(row[0]), row[1]) for row in _lines(ucd / "ScriptExtensions.txt")]
    ignorable = [
        (*_range(row[0]), "")
        for row in _lines(ucd / "DerivedCoreProperties.txt")
        if row[1] == "Default_Ignorable_Code_Point"
    ]
    prototypes = {
        chr(int(row[0], 16)): "".join(chr(int(c, 16)) for c in row[1].split())
        for row in _lines(confusables_txt)
    }
    ucd_version = _version(ucd / "Scripts.txt")
    return {
        "about": (
            "Compiled by scripts/build_unicode_data.py from Unicode data files; "
            "see README.md beside this file. Copyright Unicode, Inc.: LICENSE beside this file."
        ),
        "ucd_version": ucd_version,
        "confusables_version": _version(confusables_txt),
        "default_ignorable": [row[:2] for row in _merged(ignorable)],
        "scripts": _merged(scripts),
        "script_extensions": _merged(extensions),
        "confusables": dict(sorted(prototypes.items())),
    }


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    data = build(Path(sys.argv[1]), Path(sys.argv[2]))
    OUTPUT.write_text(json.dumps(data, ensure_ascii=True, separators=(",", ":")) + "\n")
    print(f"wrote {OUTPUT} (UCD {data['ucd_version']}, confusables {data['confusables_version']})")


if __name__ == "__main__":
    main()
