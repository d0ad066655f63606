"""The docs name only what exists: a backticked Python name or module path in README.md or
docs/ is a name, string or module of the code (src/, devtools/, bench/, tests/), and a
backticked MICROBLOG_* variable is a setting. A rename that forgets the docs fails here."""

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest

from devtools.dev import DEV_URLS
from entrypoints.settings import ENV_PREFIX, ENV_SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE = [p for top in ("src", "devtools", "bench", "tests") for p in (ROOT / top).rglob("*.py")]

# The config file's variable, and each provider's secrets (MICROBLOG_PROVIDER_<KEY>_...);
# a name with <...> in it is a pattern, not a variable.
OTHER_VARIABLES = re.compile(r"MICROBLOG_(CONFIG|PROVIDER_\w+_CLIENT_SECRET|.*<.*)")
# Names the docs use that the code never spells: other libraries' and the standard library's,
# and an example provider key.
NOT_OURS = {
    "CheckIDRequest.namespace",
    "corp.sso",
    "OpenIDServiceEndpoint",
    "datetime.utcnow()",
    "defusedxml.cElementTree",
    "gc.freeze()",
    "non_idempotent",
    "toHTML()",
}

BACKTICKED = re.compile(r"`([^`\n]+)`")
PYTHON_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\(\))?")
FILE_SUFFIXES = (".py", ".md", ".json", ".toml", ".lock", ".sqlite", ".html", ".js", ".conf")


def backticked(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # commands, TOML examples
    return set(BACKTICKED.findall(text))


def looks_like_code(name: str) -> bool:
    """snake_case, Capitalised, a call or a dotted path; not a word, a file or a variable."""
    bare = name.removesuffix("()")
    if not PYTHON_NAME.fullmatch(name) or bare.endswith(FILE_SUFFIXES) or bare.isupper():
        return False
    if (ROOT / bare).exists():
        return False
    camel = bare[0].isupper() and re.search(r"[a-z]", bare)
    return bool(re.search(r"[a-z]", bare) and ("_" in bare or camel or "." in bare))


@cache
def code_words() -> frozenset[str]:
    """Every name, whole string and module path of the code."""
    words: set[str] = set()
    for path in CODE:
        source = path.read_text()
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.NAME:
                words.add(token.string)
            elif token.type == tokenize.STRING and not token.string.startswith(("f", "F")):
                try:
                    value = ast.literal_eval(token.string)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, str):
                    words.add(value)
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        words |= {module, module.removeprefix("src."), path.stem}
    return frozenset(words)


def is_in_code(name: str) -> bool:
    bare = name.removesuffix("()")
    words = code_words()
    return bare in words or all(part in words for part in bare.split("."))


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_backticked_python_name_in_the_docs_is_in_the_code(doc):
    missing = sorted(
        name
        for name in backticked(doc)
        if looks_like_code(name) and name not in NOT_OURS and not is_in_code(name)
    )
    assert missing == [], f"{doc.name} names what the code does not have"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_backticked_microblog_variable_in_the_docs_is_a_setting(doc):
    settings = {ENV_PREFIX + name.upper() for name in ENV_SETTINGS} | set(DEV_URLS)
    named = {v for span in backticked(doc) for v in re.findall(r"MICROBLOG_[A-Z0-9_<>*]+", span)}
    unknown = sorted(
        variable
        for variable in named
        if variable not in settings
        and not OTHER_VARIABLES.fullmatch(variable)
        and not (variable.endswith("*") and any(s.startswith(variable[:-1]) for s in settings))
    )
    assert unknown == [], f"{doc.name} names variables that are not settings"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_backticked_path_of_the_repository_in_the_docs_exists(doc):
    tops = ("src/", "tests/", "docs/", "bench/", "devtools/", "scripts/")
    paths = {span.split("::")[0] for span in backticked(doc) if span.startswith(tops)}
    assert sorted(path for path in paths if not (ROOT / path).exists()) == []
