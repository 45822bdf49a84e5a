"""`invite status --people` (#10): who is where, one line a person, through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mailer.cli import app
from mailer.delivery.outbox import Outbox, Outcome
from rsvp.store import Store
from tests.conftest import TEST_KEY, person

SENT = datetime(2030, 3, 1, 8, 5, tzinfo=UTC)  # 09:05 in Paris, the test event's zone


def invite(workspace: Path, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY, "COLUMNS": "80"},
                              catch_exceptions=False)


@pytest.fixture
def people(workspace: Path, store: Store) -> Path:
    """Four people: one admitted yes, one no, one silent with a long organisation, one
    without a name; the invitation went to the first two."""
    store.add_recipients([
        person("anna@example.org", first_name="Anna", last_name="Schmidt",
               organisation="Netz Süd", role="network_manager"),
        person("bert@example.org", first_name="Bert", last_name="Brandt",
               organisation="Brandt GmbH", role="company"),
        person("carla@example.org", first_name="Carla Maria Beatriz", last_name="Zapatero",
               organisation="Kompetenznetz Mechatronik und Automatisierung Oberrhein e.V."),
        person("very.long.address.without.a.name@example.org"),
    ])
    anna = store.find_recipient("anna@example.org")
    bert = store.find_recipient("bert@example.org")
    store.record_answer(anna.id, "yes", {}, "web", now=SENT)
    store.record_answer(bert.id, "no", {}, "web", now=SENT)
    store.db.table("recipients").update(anna.id, {"admission": "admitted"})
    outbox = Outbox(store)
    outbox.queue("invitation", now=SENT)
    rows = {item.recipient.email: item.id for item in outbox.pending("invitation")}
    chosen = [rows["anna@example.org"], rows["bert@example.org"]]
    outbox.claim([(row, f"<{row}@example.org>") for row in chosen], now=SENT)
    outbox.finish([Outcome(chosen[0], "sent", "250 OK"),
                   Outcome(chosen[1], "failed", "550 no such user")], now=SENT)
    return workspace


def test_the_table_fits_80_columns_and_shows_who_is_where(people: Path) -> None:
    result = invite(people, "status", "--people")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    # By last name; names and organisations wrap, role and answer do not, the mail's time
    # is in the event's zone (08:05 UTC is 09:05 in Paris); addresses are never broken.
    assert lines == [
        "name           organisation   role             answer  admission  last mail",
        "─" * 80,
        "(no name 1)                                    -       -          invitation",
        "                                                                  queued",
        "                                                                  01 Mar 09:05",
        "Bert Brandt    Brandt GmbH    company          no      -          invitation",
        "                                                                  failed",
        "                                                                  01 Mar 09:05",
        "Anna Schmidt   Netz Süd       network_manager  yes     admitted   invitation",
        "                                                                  sent",
        "                                                                  01 Mar 09:05",
        "Carla Maria    Kompetenznetz                   -       -          invitation",
        "Beatriz        Mechatronik                                        queued",
        "Zapatero       und                                                01 Mar 09:05",
        "               Automatisieru",
        "               ng Oberrhein",
        "               e.V.",
        "(no name 1): very.long.address.without.a.name@example.org",
        "4 people; times in Europe/Paris.",
    ]


def test_filters_choose_by_answer_admission_and_role(people: Path) -> None:
    def chosen(*args: str) -> list[str]:
        result = invite(people, "status", "--people", "--json", *args)
        assert result.exit_code == 0, result.output
        return [row["email"] for row in json.loads(result.output)]

    unnamed = "very.long.address.without.a.name@example.org"
    assert chosen("--attendance", "yes") == ["anna@example.org"]
    # Repeating an option means "or", different options "and".
    assert chosen("--attendance", "yes", "--attendance", "no") == [
        "bert@example.org", "anna@example.org"]
    assert chosen("--attendance", "none") == [unnamed, "carla@example.org"]
    assert chosen("--admission", "none", "--role", "company") == ["bert@example.org"]
    assert chosen("--role", "none", "--admission", "none") == [unnamed, "carla@example.org"]
    assert chosen("--admission", "admitted", "--role", "company") == []


def test_json_has_the_address_state_and_time_with_offset(people: Path) -> None:
    result = invite(people, "status", "--people", "--json", "--attendance", "no")
    assert json.loads(result.output) == [{
        "email": "bert@example.org", "name": "Bert Brandt", "organisation": "Brandt GmbH",
        "role": "company", "attendance": "no", "admission": None, "last_mail": "invitation",
        "last_mail_state": "failed", "last_mail_at": "2030-03-01T09:05:00+01:00"}]


def test_a_value_that_is_not_there_names_those_that_are(people: Path) -> None:
    result = invite(people, "status", "--people", "--role", "partner")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: --role 'partner' is not one of network_manager, company, none"]
    wrong = invite(people, "status", "--people", "--attendance", "perhaps")
    assert wrong.output.splitlines() == [
        "Error: --attendance 'perhaps' is not one of yes, no, maybe, none"]
