"""The layout keeps its promises: rsvp never imports mailer, modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_rsvp_never_imports_mailer() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imported_modules(path)
                                            if n == "mailer" or n.startswith("mailer."))
        for path in (ROOT / "rsvp").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_module_says_its_job_and_stays_small() -> None:
    for package in ("rsvp", "mailer"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert ast.get_docstring(tree), f"{path.name} has no module docstring"
            lines = len(path.read_text(encoding="utf-8").splitlines())
            assert lines < 400, f"{path.name} has {lines} lines; split it"


def test_the_layout_check_would_catch_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from mailer.cli import app\nimport mailer\n", encoding="utf-8")
    assert imported_modules(bad) == {"mailer.cli", "mailer"}
