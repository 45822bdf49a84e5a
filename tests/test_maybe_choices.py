"""A maybe keeps its choices (#10): in the shipped example a person who answers maybe on
the answer page keeps the programme parts and companies they ticked, and counts where the
README says maybes count (the meetings list, the parts)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mailer.cli import app
from rsvp.config import load_event
from rsvp.settings import load_settings
from rsvp.store import open_store
from rsvp.tokens import ANSWER, LinkSigner
from rsvp.web.app import create_app
from tests.conftest import TEST_KEY

MAYBE = "juergen.mueller@example.org"


def cli(*args: Any) -> Any:
    result = CliRunner().invoke(app, [str(arg) for arg in args],
                                env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_a_maybe_on_the_example_keeps_parts_and_companies_and_is_counted(
        tmp_path: Path) -> None:
    folder = tmp_path / "limoges"
    cli("init", folder)
    cli("import", folder / "recipients.csv", "-w", folder)
    settings = load_settings(folder, {"INVITE_SECRET_KEY": TEST_KEY})
    event = load_event(settings.event_file)
    store = open_store(settings.database)
    try:
        who = store.find_recipient(MAYBE)
        link = LinkSigner(settings.secret_keys).sign(ANSWER, who.id, store.event_id,
                                                     who.token_version)
        client = TestClient(create_app(settings, event, store,
                                       clock=lambda: datetime.now(UTC)))
        page = client.post(f"/r/{link}", data={
            "attendance": "maybe", "parts": ["symposium", "brokerage"], "meet": ["cilas"],
            "topics": "Lasers"})
        assert page.status_code == 200, page.text
        assert store.response(who.id).answers == {  # type: ignore[union-attr]
            "parts": ["symposium", "brokerage"], "meet": ["cilas"], "topics": "Lasers"}
    finally:
        store.close()
    responses = cli("export", "--what", "responses", "-w", folder).stdout
    [row] = [r for r in csv.DictReader(io.StringIO(responses.lstrip("\ufeff")))
             if r["email"] == MAYBE]
    assert (row["attendance"], row["parts"], row["meet"]) == (
        "maybe", "symposium; brokerage", "cilas")
    meetings = cli("export", "--what", "meetings", "-w", folder).stdout
    assert any(MAYBE in line and "cilas" in line.lower() for line in meetings.splitlines())
