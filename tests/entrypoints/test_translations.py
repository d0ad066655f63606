"""The catalogs: complete, unfuzzy, with the source's placeholders, up to date with the
texts marked in the code; every message a domain error can show is among them."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from adapters.openid.identifiers import parse_identifier
from domain.errors import DomainError, InvalidIdentifier
from entrypoints.web.error_messages import KNOWN_MESSAGES
from entrypoints.web.i18n import ENGLISH, LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "src" / "entrypoints" / "web" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
TRANSLATED = sorted(locale for locale in LANGUAGES if locale != ENGLISH)
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdif%]")
# The CLI speaks English: its messages are not shown on pages.
CLI_ONLY = {ROOT / "src" / "domain" / "administration.py"}
# Errors whose message goes to a provider's server in a JSON answer, never to a person.
FOR_SERVERS = {"LogoutNoticeRefused"}


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


def placeholders(text: str) -> list[str]:
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text))


def problems(catalog: Catalog, template: Catalog) -> list[str]:
    """What keeps a catalog from being complete: missing, untranslated or fuzzy messages,
    translations whose placeholders differ from their source's, messages no longer in the
    source."""
    found = []
    ids = {message.id for message in template if message.id}
    for source in template:
        if not source.id:
            continue
        message = catalog.get(source.id)
        if message is None:
            found.append(f"missing: {source.id!r}")
            continue
        if message.fuzzy:
            found.append(f"fuzzy: {source.id!r}")
        translations = forms(message.string)
        if not all(translations):
            found.append(f"untranslated: {source.id!r}")
            continue
        wanted = {tuple(placeholders(text)) for text in forms(source.id)}
        for translation in translations:
            if tuple(placeholders(translation)) not in wanted:
                found.append(f"placeholders differ: {source.id!r} -> {translation!r}")
    found += [f"not in the source: {m.id!r}" for m in catalog if m.id and m.id not in ids]
    return found


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_catalog_translates_every_message_with_the_sources_placeholders(locale):
    catalog = read_catalog(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po")
    assert problems(catalog, read_catalog(TEMPLATE)) == []
    assert not catalog.fuzzy, "a catalog marked fuzzy is not compiled"


def test_the_completeness_check_finds_each_kind_of_problem():
    template = Catalog()
    for text in ("Save", "Hi, %(nickname)s!", "Home", "Gone"):
        template.add(text)
    catalog = Catalog(locale="de")
    catalog.add("Save", "")
    catalog[("Hi, %(nickname)s!")] = Message("Hi, %(nickname)s!", "Hallo, %(name)s!")
    catalog.add("Home", "Start", flags=["fuzzy"])
    catalog.add("Old", "Alt")
    assert problems(catalog, template) == [
        "untranslated: 'Save'",
        "placeholders differ: 'Hi, %(nickname)s!' -> 'Hallo, %(name)s!'",
        "fuzzy: 'Home'",
        "missing: 'Gone'",
        "not in the source: 'Old'",
    ]


def test_the_template_holds_every_text_marked_in_the_code(tmp_path):
    """`make translations` was run after the last text was marked or changed."""
    extracted = tmp_path / "messages.pot"
    subprocess.run(
        [
            Path(sys.executable).with_name("pybabel"),
            "--quiet",
            "extract",
            "-F",
            "src/entrypoints/web/babel.cfg",
            "-k",
            "_l",
            "-k",
            "N_",
            "--no-location",
            "-o",
            extracted,
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    ids = lambda catalog: sorted(str(m.id) for m in catalog if m.id)  # noqa: E731
    assert ids(read_catalog(extracted)) == ids(read_catalog(TEMPLATE))


def messages_raised_in(path: Path) -> tuple[list[str], list[str]]:
    """The literal messages of the DomainError classes and of the errors raised in a
    module, and the source of those that are not literals."""
    literal, computed = [], []
    error_names = {kind.__name__ for kind in all_subclasses(DomainError)} - FOR_SERVERS
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef) and node.name not in FOR_SERVERS:
            for statement in node.body:
                targets = getattr(statement, "targets", [])
                if targets and getattr(targets[0], "id", None) == "message":
                    literal.append(ast.literal_eval(statement.value))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in error_names
            and node.args
        ):
            argument = node.args[0]
            if isinstance(argument, ast.Constant):
                literal.append(argument.value)
            else:
                computed.append(ast.unparse(argument))
    return literal, computed


def test_every_message_a_domain_error_can_show_is_listed_for_translation():
    known = set(KNOWN_MESSAGES)
    unlisted, computed = [], []
    for path in sorted((ROOT / "src").rglob("*.py")):
        if path in CLI_ONLY:
            continue
        literal, not_literal = messages_raised_in(path)
        unlisted += [message for message in literal if message not in known]
        computed += not_literal
    assert unlisted == []
    # Messages computed at run time: each is checked by making it.
    assert sorted(computed) == [
        "SESSION_STORE_DOWN",
        "f'That identifier is too long (at most {MAX_IDENTIFIER_LENGTH} characters).'",
    ]
    from adapters.redis.stores import SESSION_STORE_DOWN

    with pytest.raises(InvalidIdentifier) as too_long:
        parse_identifier("x" * 5000)
    assert {SESSION_STORE_DOWN, too_long.value.message} <= known
    shown_to_people = [k for k in all_subclasses(DomainError) if k.__name__ not in FOR_SERVERS]
    assert all(kind.message in known for kind in shown_to_people)


def all_subclasses(kind: type) -> list[type]:
    return [kind, *(sub for child in kind.__subclasses__() for sub in all_subclasses(child))]
