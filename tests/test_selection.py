"""Choosing who gets a mailing (#12): `--batch`, `--where`, `--to`, `--exclude`, `--list`
and the question before a send, through the CLI and a real aiosmtpd relay."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from tests.conftest import TEST_KEY
from tests.relay import ScriptedRelay, running_relay

HEADER = "email,first_name,last_name,organisation,role,language,sector,region\n"
NETWORKS = HEADER + (
    "anna@example.org,Anna,Schmidt,Cluster Nord,network_manager,de,ict,Nord\n"
    "bernd@example.org,Bernd,Huber,Cluster Süd,network_manager,de,production,Süd\n")
COMPANIES = HEADER + (
    "chloe@example.fr,Chloé,Martin,Martin SA,company,fr,ict,Süd\n"
    "dieter@example.org,Dieter,Vogel,Vogel GmbH,company,de,automotive,Nord\n"
    "emile@example.fr,Émile,Roux,Roux SARL,company,fr,production,Nord\n")


def invite(workspace: Path, port: int, *args: str) -> Any:
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
           "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org"}
    return CliRunner().invoke(app, [*args, "-w", str(workspace)], env=env,
                              catch_exceptions=False)


@pytest.fixture
def relay() -> Any:
    with running_relay() as running:
        yield running


@pytest.fixture
def people(workspace: Path, tmp_path: Path) -> Path:
    """Two network managers (batch networks), three companies (batch companies)."""
    for name, text in (("networks.csv", NETWORKS), ("companies.csv", COMPANIES)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert invite(workspace, 0, "import", str(tmp_path / name)).exit_code == 0
    return workspace


def received(catcher: ScriptedRelay) -> list[str]:
    return sorted(mail.recipients[0] for mail in catcher.snapshot())


def test_a_batch_goes_first_the_rest_later_and_everyone_once(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    first = invite(people, port, "send", "--yes", "--batch", "networks")
    assert first.exit_code == 0, first.output
    assert received(catcher) == ["anna@example.org", "bernd@example.org"]
    again = invite(people, port, "send", "--yes", "--batch", "networks")
    assert "No invitations to send." in again.output
    rest = invite(people, port, "send", "--yes")
    assert rest.exit_code == 0, rest.output
    assert received(catcher) == ["anna@example.org", "bernd@example.org", "chloe@example.fr",
                                 "dieter@example.org", "emile@example.fr"]


def test_every_where_condition_must_hold(people: Path,
                                         relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(people, port, "send", "--yes", "--where", "language=fr",
                    "--where", "extra.region!=Süd", "--where", "role=company")
    assert result.exit_code == 0, result.output
    assert received(catcher) == ["emile@example.fr"]
    by_sector = invite(people, port, "send", "--yes", "--where", "sector=ICT",
                       "--where", "batch=companies")
    assert by_sector.exit_code == 0, by_sector.output
    assert received(catcher) == ["chloe@example.fr", "emile@example.fr"]


def test_reminders_go_to_those_chosen_who_have_not_answered(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    assert invite(people, port, "send", "--yes").exit_code == 0
    invite(people, port, "record", "chloe@example.fr", "--attendance", "maybe")
    invite(people, port, "record", "dieter@example.org", "--attendance", "no")
    result = invite(people, port, "send", "--yes", "--mailing", "reminder", "--where",
                    "attendance!=no", "--batch", "companies", "--batch", "networks")
    assert result.exit_code == 0, result.output
    # Chloé answered maybe: a reminder goes only to those who have not answered at all.
    reminded = [mail.recipients[0] for mail in catcher.snapshot()[5:]]
    assert sorted(reminded) == ["anna@example.org", "bernd@example.org", "emile@example.fr"]


def test_to_and_exclude_narrow_and_an_exclusion_file_may_name_strangers(
        people: Path, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, port = relay
    listed = tmp_path / "already-registered.csv"
    listed.write_text("name;email\nDieter;DIETER@example.org\nSomeone;other@example.net\n",
                      encoding="utf-8")
    result = invite(people, port, "send", "--yes", "--batch", "companies",
                    "--exclude-file", str(listed), "--exclude", "emile@example.fr")
    assert result.exit_code == 0, result.output
    assert received(catcher) == ["chloe@example.fr"]
    to = invite(people, port, "send", "--yes", "--to", "bernd@example.org,Anna@Example.org")
    assert to.exit_code == 0, to.output
    assert received(catcher) == ["anna@example.org", "bernd@example.org", "chloe@example.fr"]


def test_an_unsubscribed_person_stays_out_whatever_is_selected(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    from rsvp.store import open_store
    catcher, port = relay
    store = open_store(people / "invite.db")
    try:
        store.unsubscribe(store.find_recipient("anna@example.org").id)
    finally:
        store.close()
    result = invite(people, port, "send", "--yes", "--to", "anna@example.org")
    assert result.exit_code == 0, result.output
    assert "No invitations to send." in result.output
    listed = invite(people, port, "send", "--list", "--batch", "networks")
    assert "anna@example.org" not in listed.output
    assert catcher.snapshot() == []


@pytest.mark.parametrize(("args", "lines"), [
    (("--batch", "partners"),
     ["Error: unknown batch 'partners'; the batches are networks, companies",
      ("Hint: `invite import FILE --batch NAME` puts people in a batch; `invite status` "
       "shows them.")]),
    (("--where", "rol=company"),
     [("Error: unknown field 'rol' in --where rol=company; use one of role, language, sector, "
       "organisation, batch, attendance, admission or extra.COLUMN"),
      "Hint: Write --where FIELD=VALUE, or FIELD!=VALUE for \"not\"."]),
    (("--where", "role=speaker"),
     [("Error: no one has role 'speaker' (--where role=speaker); the values are company, "
       "network_manager"),
      "Hint: `invite export --what recipients` shows everyone's values."]),
    (("--where", "attendance=perhaps"),
     [("Error: no one has attendance 'perhaps' (--where attendance=perhaps); the values are "
       "yes, no, maybe, none"),
      "Hint: `invite export --what recipients` shows everyone's values."]),
    (("--where", "extra.city=Paris"),
     [("Error: no column 'city' in the imports (--where extra.city=Paris); the extra columns "
       "are region"),
      "Hint: Use extra.COLUMN with a column of the import file."]),
    (("--where", "role"),
     ["Error: --where 'role' is not FIELD=VALUE or FIELD!=VALUE",
      "Hint: E.g. --where role=company or --where attendance!=no."]),
    (("--to", "nobody@example.org"),
     ["Error: no recipient 'nobody@example.org' in this workspace (--to)",
      "Hint: `invite export --what recipients` lists everyone."]),
])
def test_an_unknown_field_value_batch_or_address_is_a_clear_error(
        people: Path, relay: tuple[ScriptedRelay, int], args: tuple[str, ...],
        lines: list[str]) -> None:
    catcher, port = relay
    result = invite(people, port, "send", "--yes", *args)
    assert result.exit_code == 1
    assert result.output.splitlines() == lines
    assert catcher.snapshot() == []


def test_list_shows_who_would_get_it_and_sends_nothing(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(people, port, "send", "--list", "--where", "language=fr")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "name          email             organisation  role     language  batch",
        "------------  ----------------  ------------  -------  --------  ---------",
        "Chloé Martin  chloe@example.fr  Martin SA     company  fr        companies",
        "Émile Roux    emile@example.fr  Roux SARL     company  fr        companies",
        "2 people would get the invitation (language=fr); nothing was sent.",
    ]
    assert catcher.snapshot() == []
    status = invite(people, port, "status", "--json")
    assert '"mailings": {}' in status.output


def test_the_question_says_how_many_of_which_batches_and_roles(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    catcher, port = relay
    result = invite(people, port, "send", "--where", "sector!=automotive")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: `invite send` needs --yes when it cannot ask (no terminal)",
        ("Hint: Add --yes to answer yes to: Send 4 invitations (batches: companies 2, "
         f"networks 2; roles: company 2, network_manager 2) via 127.0.0.1:{port} (STARTTLS "
         "if offered) with links to https://rsvp.example.org?")]
    assert catcher.snapshot() == []


def test_preview_shows_the_first_person_chosen(people: Path) -> None:
    result = invite(people, 0, "preview", "--batch", "companies", "--where", "language=fr")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == ("The invitation to chloe@example.fr: the first of 2 people "
                        "(batch companies, language=fr).")
    assert lines[1].startswith("Subject: Invitation")
    assert "Martin" in result.output
    both = invite(people, 0, "preview", "anna@example.org", "--batch", "companies")
    assert both.exit_code == 1
    assert both.output.splitlines()[0] == (
        "Error: give an address or --batch/--where/--to/--exclude, not both")


def test_rows_queued_for_others_wait_while_a_batch_is_sent(
        people: Path, relay: tuple[ScriptedRelay, int]) -> None:
    """`--limit` queues everyone and sends one; a later `--batch` run sends that batch
    alone, the other rows wait for a run that chooses them."""
    catcher, port = relay
    assert invite(people, port, "send", "--yes", "--limit", "1").exit_code == 0
    assert received(catcher) == ["anna@example.org"]
    companies = invite(people, port, "send", "--yes", "--batch", "companies")
    assert companies.exit_code == 0, companies.output
    assert received(catcher) == ["anna@example.org", "chloe@example.fr", "dieter@example.org",
                                 "emile@example.fr"]
    listed = invite(people, port, "send", "--list")
    assert listed.output.splitlines()[-1] == (
        "1 person would get the invitation (everyone); nothing was sent.")
    assert "bernd@example.org" in listed.output


def test_an_exclusion_file_matches_addresses_as_the_import_stores_them(
        people: Path, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, port = relay
    more = tmp_path / "more.csv"
    more.write_text(HEADER + "fritz@münchen.example,Fritz,Bauer,Bauer AG,company,de,ict,Süd\n",
                    encoding="utf-8")
    assert invite(people, port, "import", str(more), "--batch", "companies").exit_code == 0
    listed = tmp_path / "registered.txt"
    listed.write_text("Already registered: Dieter@Example.org. Also fritz@xn--mnchen-3ya.example!\n"
                      "And someone@example.net, who is not invited.\n", encoding="utf-8")
    result = invite(people, port, "send", "--yes", "--batch", "companies",
                    "--exclude-file", str(listed))
    assert result.exit_code == 0, result.output
    assert ("Note: 1 address in registered.txt is not in this workspace and excludes "
            "nobody now.") in result.output
    assert received(catcher) == ["chloe@example.fr", "emile@example.fr"]


def test_a_scheduled_send_leaves_out_the_listed_people_imported_after_it(
        people: Path, relay: tuple[ScriptedRelay, int], tmp_path: Path) -> None:
    catcher, port = relay
    listed = tmp_path / "registered.txt"
    listed.write_text("gerd.lang@example.org\n", encoding="utf-8")
    at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    scheduled = invite(people, port, "send", "--yes", "--batch", "companies",
                       "--exclude-file", str(listed), "--at", at.isoformat())
    assert scheduled.exit_code == 0, scheduled.output
    stored = b"".join(path.read_bytes() for path in people.glob("invite.db*"))
    assert b"gerd.lang" not in stored  # a keyed hash, never the address
    late = tmp_path / "late.csv"
    late.write_text(HEADER + "gerd.lang@example.org,Gerd,Lang,Lang KG,company,de,ict,Nord\n",
                    encoding="utf-8")
    assert invite(people, port, "import", str(late), "--batch", "companies").exit_code == 0
    time.sleep(max(0.0, at.timestamp() - time.time()) + 0.5)
    result = invite(people, port, "send", "--yes", "--to", "anna@example.org")
    assert result.exit_code == 0, result.output
    assert received(catcher) == ["anna@example.org", "chloe@example.fr", "dieter@example.org",
                                 "emile@example.fr"]
