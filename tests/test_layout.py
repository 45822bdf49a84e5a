"""The layout keeps its promises: imports point one way, modules say their job and stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each layer and the layers it may import (besides itself). Read top-down: nothing
# imports `mailer.cli`; `rsvp` never imports `mailer`; the domain never imports the web.
MAY_IMPORT = {
    "mailer.cli": {"mailer.reports", "mailer.delivery", "mailer.people", "mailer.content",
                   "mailer.planner", "mailer.bounces", "rsvp.web", "rsvp"},
    "mailer.bounces": {"mailer.delivery", "mailer.content", "rsvp"},
    "mailer.planner": {"mailer.content", "rsvp"},
    "mailer.reports": {"mailer.delivery", "mailer.content", "rsvp"},
    "mailer.delivery": {"mailer.content", "rsvp"},
    "mailer.people": {"mailer.content", "rsvp"},
    "mailer.content": {"rsvp"},
    "rsvp.web": {"rsvp"},
    "rsvp": set(),
}
COMMANDS = "mailer.cli.commands"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to, most specific first."""
    for layer in sorted(MAY_IMPORT, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return "mailer" if module == "mailer" or module.startswith("mailer.") else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_offences(path: Path) -> list[str]:
    """Imports of `path` that point up or sideways."""
    own = module_name(path)
    layer = layer_of(own)
    offences = []
    for name in sorted(imported_modules(path)):
        target = layer_of(name)
        if target is None or target == layer or own == "mailer.__main__":
            continue
        if layer is None or target not in MAY_IMPORT.get(layer, set()):
            offences.append(f"{own} imports {name}")
    return offences


def python_files() -> list[Path]:
    return sorted(p for package in ("rsvp", "mailer") for p in (ROOT / package).rglob("*.py"))


def test_every_import_points_down() -> None:
    offences = [offence for path in python_files() for offence in layer_offences(path)]
    assert offences == []


def test_command_modules_know_nothing_of_each_other_or_the_root() -> None:
    offences = []
    for path in sorted((ROOT / "mailer" / "cli" / "commands").glob("*.py")):
        own = module_name(path)
        for name in imported_modules(path):
            if name in ("mailer.cli", "mailer.cli.root") or (
                    name.startswith(COMMANDS + ".") and name != own):
                offences.append(f"{own} imports {name}")
    assert offences == []


def test_rsvp_never_imports_mailer() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imported_modules(path)
                                            if n == "mailer" or n.startswith("mailer."))
        for path in (ROOT / "rsvp").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_package_says_what_it_holds_and_may_import() -> None:
    for init in (path for path in python_files() if path.name == "__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "import" in doc.lower(), f"{init.relative_to(ROOT)} does not say what it may import"


def test_every_module_says_its_job_and_stays_small() -> None:
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines < 400, f"{path.name} has {lines} lines; split it"


def test_the_layout_check_would_catch_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from mailer.cli import app\nimport mailer\n", encoding="utf-8")
    assert imported_modules(bad) == {"mailer.cli", "mailer"}


@pytest.mark.parametrize(("module", "imports", "allowed"), [
    ("mailer.content.render", "mailer.delivery.outbox", False),
    ("mailer.delivery.sender", "mailer.cli.common", False),
    ("mailer.delivery.sender", "mailer.reports.status", False),
    ("mailer.people.workspace", "mailer.delivery.outbox", False),
    ("rsvp.store", "rsvp.web.app", False),
    ("rsvp.web.app", "mailer.delivery.outbox", False),
    ("mailer.reports.status", "mailer.delivery.outbox", True),
    ("mailer.cli.commands.mail", "rsvp.web.app", True),
])
def test_the_layer_rules_judge_as_the_docstrings_say(module: str, imports: str,
                                                     allowed: bool) -> None:
    source = layer_of(module)
    target = layer_of(imports)
    assert source is not None and target is not None
    assert (target in MAY_IMPORT[source]) is allowed
