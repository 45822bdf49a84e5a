"""A "very important" mark on the answer page (`priorities = true`) weighs in the plan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from rsvp.config import load_event
from rsvp.settings import load_settings
from rsvp.store import Store, open_store
from rsvp.tokens import ANSWER, LinkSigner
from rsvp.web.app import create_app
from tests.conftest import TEST_KEY, make_workspace, person
from tests.test_planner import BROKERAGE, COMPANIES, ok, pairs

OPEN = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
WITH_PRIORITIES = BROKERAGE.replace("tables = 2", "tables = 2\npriorities = true\n\n"
                                    "[brokerage.companies.alpha]\nmax_meetings = 1")


def answer(client: TestClient, store: Store, signer: LinkSigner, email: str,
           form: dict[str, object]) -> str:
    who = store.find_recipient(email)
    link = signer.sign(ANSWER, who.id, store.event_id, who.token_version)
    response = client.post(f"/r/{link}", data=form)
    assert response.status_code == 200, response.text
    return client.get(f"/r/{link}").text


def test_the_form_asks_what_is_very_important_and_the_plan_follows(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, COMPANIES + WITH_PRIORITIES)
    settings = load_settings(ws, {"INVITE_SECRET_KEY": TEST_KEY,
                                  "INVITE_BASE_URL": "http://testserver"})
    store = open_store(settings.database)
    try:
        store.add_recipients([person("ada@example.org", "en"), person("ben@example.org", "en")])
        client = TestClient(create_app(settings, load_event(settings.event_file), store,
                                       clock=lambda: OPEN))
        signer = LinkSigner(settings.secret_keys)
        # Ada answers first, for Alpha only; Ben wants Beta too but marks Alpha very
        # important. Unweighted, fairness would give Alpha to Ada (her only meeting).
        answer(client, store, signer, "ada@example.org",
               {"attendance": "yes", "parts": "symposium", "meet": "alpha"})
        page = answer(client, store, signer, "ben@example.org",
                      {"attendance": "yes", "parts": "symposium", "meet": ["alpha", "beta"],
                       "meet_important": "alpha"})
        assert "Which of these meetings are very important to you?" in page
        assert 'name="meet_important" id="f-meet_important-alpha" value="alpha" checked' in page
        ben = store.response(store.find_recipient("ben@example.org").id)
        assert ben is not None and ben.answers["meet_important"] == ["alpha"]
    finally:
        store.close()
    ok(ws, "admit", "ada@example.org", "ben@example.org")
    lines = ok(ws, "meetings", "plan", "--time-limit", "3")
    assert lines[0] == ("Wishes met: 2 of 3 (weighted by priority: 3 of 4), 2 meetings in "
                        "3 slots")
    assert pairs(ws) == {("ben", "alpha"): "planned", ("ben", "beta"): "planned"}
    assert lines[-3:-1] == ["People with fewer meetings than wished:",
                            "  ada@example.org: 0 of 1 (Alpha: company full)"]
