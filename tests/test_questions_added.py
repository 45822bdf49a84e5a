"""An event.toml that only gains questions keeps every answer given before (issue 3)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mailer.reports.export import export_table
from rsvp.config import load_event
from rsvp.settings import Settings
from rsvp.store import Store
from rsvp.web.app import create_app
from tests.conftest import person
from tests.test_app import MORE_QUESTIONS, OPEN, token


def test_answers_survive_a_configuration_that_only_adds_questions(
        workspace: Path, settings: Settings, store: Store) -> None:
    store.add_recipients([person("erika@example.org", "de", last_name="Muster")])
    erika = store.find_recipient("erika@example.org")
    link = token(settings, store, erika)
    before = TestClient(create_app(settings, load_event(settings.event_file), store,
                                   clock=lambda: OPEN))
    answer = {"attendance": "yes", "answers": {"parts": ["visits", "symposium"],
                                               "french_help": True, "comment": "Grüße"}}
    assert before.put(f"/api/responses/{link}", json=answer).status_code == 200

    path = settings.event_file
    path.write_text(path.read_text(encoding="utf-8") + MORE_QUESTIONS, encoding="utf-8")
    grown = load_event(path)
    after = TestClient(create_app(settings, grown, store, clock=lambda: OPEN))

    stored = after.get(f"/api/responses/{link}").json()
    assert stored["attendance"] == "yes"
    assert stored["answers"]["parts"] == ["visits", "symposium"]
    assert stored["answers"]["french_help"] is True
    assert stored["answers"]["comment"] == "Grüße"
    page = after.get(f"/r/{link}").text
    assert 'value="visits" checked' in page and 'value="symposium" checked' in page
    assert "Grüße" in page
    columns, rows = export_table(store, grown, "responses")
    [row] = list(rows)
    assert {"parts", "french_help", "comment", "arrival", "guests"} <= set(columns)
    assert (row["parts"], row["french_help"], row["comment"]) == (
        "visits; symposium", "yes", "Grüße")
    assert row["arrival"] in (None, "")
    # The new required question is asked at the next change, and the rest stays.
    changed = after.put(f"/api/responses/{link}", json={
        **answer, "answers": {**answer["answers"], "arrival": "train"}})
    assert changed.status_code == 200, changed.text
    assert store.response(erika.id).answers["comment"] == "Grüße"
