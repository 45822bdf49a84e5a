"""Importing again with fewer columns (#10 review): only the columns a file has are
written, so a narrower file changes no one's language or extra columns. The CLI on a
workspace made by `invite init`, read back through the export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mailer.cli import app
from tests.conftest import TEST_KEY

HELENE = "helene.lefevre@oberrhein.example.net"


def invite(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"INVITE_SECRET_KEY": TEST_KEY},
                              catch_exceptions=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A workspace made by `invite init`, nothing imported yet."""
    path = tmp_path / "limoges"
    assert invite("init", path).exit_code == 0
    return path


def recipient(workspace: Path, address: str) -> dict[str, object]:
    result = invite("export", "--what", "recipients", "--format", "json", "-w", workspace)
    assert result.exit_code == 0, result.output
    [found] = [row for row in json.loads(result.stdout) if row["email"] == address]
    return dict(found)


def test_a_narrower_file_keeps_language_and_extra_columns(folder: Path) -> None:
    assert invite("import", folder / "recipients.csv", "-w", folder).exit_code == 0
    topics = folder / "topics.csv"
    topics.write_text(f"email,topics,stand\n{HELENE},lasers,B12\n", encoding="utf-8")
    assert invite("import", topics, "-w", folder).exit_code == 0
    before = recipient(folder, HELENE)
    assert (before["topics"], before["stand"]) == ("lasers", "B12")

    narrower = folder / "organisations.csv"
    narrower.write_text(f"email,organisation\n{HELENE},Mechatronik Oberrhein e.V.\n",
                        encoding="utf-8")
    result = invite("import", narrower, "-w", folder)
    assert result.exit_code == 0, result.output
    assert "0 added, 1 updated, 0 unchanged." in result.output
    after = recipient(folder, HELENE)
    assert after["organisation"] == "Mechatronik Oberrhein e.V."
    assert after["language"] == before["language"] == "fr"
    assert {key: after[key] for key in after if key != "organisation"} == {
        key: before[key] for key in before if key != "organisation"}

    one_extra = folder / "stands.csv"  # a column set, the others kept
    one_extra.write_text(f"email,stand\n{HELENE},C3\n", encoding="utf-8")
    assert "0 added, 1 updated" in invite("import", one_extra, "-w", folder).output
    assert "0 added, 0 updated, 1 unchanged." in invite("import", one_extra, "-w",
                                                         folder).output
    kept = recipient(folder, HELENE)
    assert (kept["topics"], kept["stand"], kept["language"]) == ("lasers", "C3", "fr")

def test_a_new_person_without_a_language_gets_the_event_default(folder: Path) -> None:
    plain = folder / "plain.csv"
    plain.write_text("email\nnew.person@example.org\n", encoding="utf-8")
    assert invite("import", plain, "-w", folder).exit_code == 0
    assert recipient(folder, "new.person@example.org")["language"] == "de"
