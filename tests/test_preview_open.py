"""`invite preview --open` (#9): the HTML is written and handed to the default browser
($BROWSER, as Python's webbrowser reads it), with links that record nothing; without a
browser the organiser learns where the file is. Run in a process of its own, because
webbrowser reads $BROWSER once per process."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rsvp.store import Store
from rsvp.tokens import TEST_PREFIX
from tests.conftest import TEST_KEY, person

NO_BROWSER = ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "TERM")


@pytest.fixture
def anna(store: Store) -> str:
    store.add_recipients([person("anna.schmidt@example.org", "de", salutation="Frau",
                                 title="Dr.", first_name="Anna", last_name="Schmidt")])
    return "anna.schmidt@example.org"


def preview(workspace: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in NO_BROWSER}
    environment.update({"INVITE_SECRET_KEY": TEST_KEY, "TMPDIR": str(workspace.parent), **env})
    return subprocess.run([sys.executable, "-m", "mailer", "preview", *args, "-w", str(workspace)],
                          capture_output=True, text=True, env=environment, timeout=60, check=False)


def written(output: str) -> Path:
    line = next(line for line in output.splitlines() if line.startswith("Wrote "))
    return Path(line.removeprefix("Wrote "))


def assert_test_links(text: str, at_least: int) -> None:
    """Every answer (/r/) and unsubscribe (/u/) link in `text` is a test link."""
    links = re.findall(r"https://rsvp\.example\.org/([ru])/([^\s\"'<>]+)", text)
    assert len(links) >= at_least, text
    for kind, token in links:
        assert token.startswith(TEST_PREFIX), f"/{kind}/{token}"


def recording_browser(folder: Path) -> tuple[Path, Path]:
    """A "browser" that writes the address it was given into a file."""
    script, record = folder / "browser.sh", folder / "opened.txt"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}"\n', encoding="utf-8")
    script.chmod(0o755)
    return script, record


def test_the_html_opens_in_the_browser_named_by_browser(workspace: Path, anna: str,
                                                        tmp_path: Path) -> None:
    script, record = recording_browser(tmp_path)
    result = preview(workspace, {"BROWSER": str(script),
                                 "INVITE_BASE_URL": "https://rsvp.example.org"},
                     anna, "--open")
    assert result.returncode == 0, result.stderr
    path = written(result.stdout)
    assert record.read_text(encoding="utf-8") == path.resolve().as_uri()
    assert path.name == "invitation-anna.schmidt@example.org.html"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    html = path.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "Sehr geehrte Frau Dr. Schmidt," in html
    assert_test_links(html, at_least=1)  # clicking records nothing
    assert "No web browser" not in result.stdout


def test_with_out_the_html_goes_beside_the_eml(workspace: Path, anna: str,
                                               tmp_path: Path) -> None:
    script, record = recording_browser(tmp_path)
    out = tmp_path / "previews"
    result = preview(workspace, {"BROWSER": str(script),
                                 "INVITE_BASE_URL": "https://rsvp.example.org"},
                     anna, "--mailing", "reminder", "--open", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "reminder-anna.schmidt@example.org.eml", "reminder-anna.schmidt@example.org.html"]
    assert record.read_text(encoding="utf-8") == \
        (out / "reminder-anna.schmidt@example.org.html").resolve().as_uri()
    # The .eml opened in Outlook records nothing either, one-click unsubscribe included.
    message = email.message_from_bytes((out / "reminder-anna.schmidt@example.org.eml")
                                       .read_bytes(), policy=email.policy.default)
    assert str(message["List-Unsubscribe"]).startswith(
        f"<https://rsvp.example.org/u/{TEST_PREFIX}")
    assert not str(message["Subject"]).startswith("[TEST]")  # the subject as it will be
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        assert body is not None
        assert_test_links(body.get_content(), at_least=2)
    (out / "reminder-anna.schmidt@example.org.eml").unlink()
    printed = preview(workspace, {"INVITE_BASE_URL": "https://rsvp.example.org"}, anna)
    assert printed.returncode == 0, printed.stderr
    assert_test_links(printed.stdout, at_least=1)


def test_without_a_browser_it_says_where_the_file_is(workspace: Path, anna: str,
                                                     tmp_path: Path) -> None:
    empty = tmp_path / "no-programs"
    empty.mkdir()
    result = preview(workspace, {"PATH": str(empty)}, anna, "--open")
    assert result.returncode == 0, result.stderr
    path = written(result.stdout)
    assert path.is_file()
    assert f"No web browser found here: open {path} in one." in result.stdout
