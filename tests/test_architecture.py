import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def imported_top_level_modules(package_dir: Path) -> dict[str, set[str]]:
    """Top-level names of every absolute import in a package, by file."""
    found: dict[str, set[str]] = {}
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = {node.module}
            else:
                continue
            found.setdefault(str(path.relative_to(package_dir.parent)), set()).update(
                name.split(".")[0] for name in names
            )
    return found


def non_stdlib_imports(package_dir: Path, own: str) -> list[str]:
    allowed = set(sys.stdlib_module_names) | {own, "__future__"}
    return sorted(
        f"{file}: {module}"
        for file, modules in imported_top_level_modules(package_dir).items()
        for module in modules - allowed
    )


def test_the_domain_imports_only_the_standard_library():
    assert non_stdlib_imports(SRC / "domain", "domain") == []


# What the domain leaves to the layers around it: time and sleeping go through the Clock port,
# threads and locks are the process's business, pages and protocols the web's and adapters'.
EDGE_MODULES = {"time", "threading", "multiprocessing", "asyncio", "concurrent"}
SITE_PATH = re.compile(r"/[A-Za-z][\w/-]*")
PROTOCOL_NAMES = ("OpenID", "OIDC", "JWT")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (they may name anything)."""
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, owners)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def edge_concerns(package_dir: Path) -> list[str]:
    """Imports of EDGE_MODULES, and string values that are a site path or a protocol's name."""
    found = [
        f"{file}: import {module}"
        for file, modules in imported_top_level_modules(package_dir).items()
        for module in modules & EDGE_MODULES
    ]
    for path in package_dir.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            text = node.value
            if id(node) in docstrings:
                continue
            if SITE_PATH.fullmatch(text) or any(name in text for name in PROTOCOL_NAMES):
                found.append(f"{path.relative_to(package_dir.parent)}: {text!r}")
    return sorted(found)


def test_the_domain_leaves_sleeping_locks_page_paths_and_protocol_names_to_other_layers():
    assert edge_concerns(SRC / "domain") == []


def test_the_edge_check_catches_a_sleep_a_lock_a_page_path_and_a_protocol_name(tmp_path):
    domain = tmp_path / "domain"
    domain.mkdir()
    (domain / "services.py").write_text(
        '"""Docstrings may say OpenID and /account."""\n'
        "import threading\nfrom time import sleep\n"
        'HOME = "/account"\nNAME = "OpenID"\nSAFE = "//"\n'
    )
    assert edge_concerns(domain) == [
        "domain/services.py: '/account'",
        "domain/services.py: 'OpenID'",
        "domain/services.py: import threading",
        "domain/services.py: import time",
    ]


def test_adapters_never_import_entrypoints():
    offenders = [
        file
        for file, modules in imported_top_level_modules(SRC / "adapters").items()
        if "entrypoints" in modules
    ]
    assert offenders == []


def test_the_stdlib_check_catches_a_third_party_import(tmp_path):
    domain = tmp_path / "domain"
    domain.mkdir()
    (domain / "model.py").write_text("import json\nfrom sqlalchemy.orm import Session\n")
    assert non_stdlib_imports(domain, "domain") == ["domain/model.py: sqlalchemy"]


@pytest.mark.parametrize(
    ("file", "bad_import"),
    [
        ("domain/model.py", "import flask"),
        ("adapters/__init__.py", "import entrypoints"),
        ("entrypoints/settings.py", "import devtools.dev_oidc"),
        ("adapters/oidc/protocol.py", "import adapters.openid.identifiers"),
        ("adapters/protocols.py", "import adapters.oidc.relying_party"),
        ("adapters/oauth2/code_flow.py", "import adapters.oidc.protocol"),
        ("entrypoints/web/deps.py", "import entrypoints.container"),
        ("entrypoints/app.py", "import entrypoints.cli.commands"),
        ("adapters/oauth2/settings.py", "import adapters.github.protocol"),
        ("adapters/github/relying_party.py", "import adapters.oauth2_generic.relying_party"),
        ("adapters/oauth2_generic/protocol.py", "import adapters.oidc.protocol"),
    ],
)
def test_import_linter_fails_when_a_contract_is_broken(tmp_path, file, bad_import):
    shutil.copytree(SRC, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    lint_imports = Path(sys.executable).with_name("lint-imports")

    def run():
        return subprocess.run(
            [str(lint_imports), "--no-cache"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run().returncode == 0
    target = tmp_path / "src" / file
    target.write_text(target.read_text() + f"\n{bad_import}\n")
    broken = run()
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout


@pytest.mark.slow
def test_the_wheel_holds_the_site_and_no_development_provider(tmp_path):
    project = tmp_path / "project"  # a copy, so that the build leaves no build/ behind
    shutil.copytree(SRC, project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), project],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("microblog-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "entrypoints/web/templates/login.html" in names
    assert "entrypoints/web/static/microblog.css" in names
    assert "entrypoints/cli/main.py" in names
    development = [
        name for name in names if re.search(r"devtools|dev_provider|dev_oidc|dev_github", name)
    ]
    assert development == []
