"""A forgotten person stays forgotten (#8): only a keyed hash is kept, a later import
skips the address unless allowed back, and the files beside the database that still
mention the person are named and can be deleted. Through the real CLI."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mailer.cli import app
from rsvp.forgotten import ForgottenAddresses, address_hash
from rsvp.store import Store
from tests.conftest import TEST_KEY

PEOPLE = ("email,first_name,last_name,organisation,role,language\n"
          "zoe.unique@example.org,Zoë,Lefèvre,Lefèvre SA,company,fr\n"
          "other@example.org,Otto,Other,Other GmbH,company,de\n")
ENV = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": "https://rsvp.example.org"}


def invite(workspace: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "-w", str(workspace)], env=ENV,
                                catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_forget_names_and_deletes_the_copies_and_keeps_only_a_keyed_hash(
        workspace: Path, store: Store) -> None:
    source = workspace / "people.csv"
    source.write_text(PEOPLE, encoding="utf-8")
    invite(workspace, "import", str(source))
    invite(workspace, "preview", "zoe.unique@example.org", "--out", str(workspace / "previews"))
    invite(workspace, "preview", "other@example.org", "--out", str(workspace / "previews"))
    invite(workspace, "export", "--what", "recipients", "--format", "xlsx",
           "-o", str(workspace / "list.xlsx"))
    (workspace / "notes.txt").write_text("nothing about her", encoding="utf-8")

    result = invite(workspace, "forget", "ZOE.unique@example.org", "--yes", "--delete-files")
    listed = result.output.split("still mention the person:", 1)[1]
    assert "previews/invitation-zoe.unique@example.org.eml" in listed
    assert "list.xlsx" in listed and "people.csv" in listed
    assert "other@example.org.eml" not in listed and "notes.txt" not in listed
    assert "Deleted 3 files." in result.output
    assert sorted(p.name for p in (workspace / "previews").iterdir()) == [
        "invitation-other@example.org.eml"]
    assert (workspace / "notes.txt").exists() and not source.exists()

    [(kept,)] = store.conn.execute("SELECT address_hash FROM forgotten").fetchall()
    assert hmac.compare_digest(kept, address_hash(TEST_KEY, "zoe.unique@example.org"))
    for path in workspace.glob("invite.db*"):
        assert b"zoe.unique" not in path.read_bytes(), path.name


def test_a_forgotten_address_is_left_out_of_a_later_import_unless_allowed(
        workspace: Path, store: Store) -> None:
    source = workspace / "people.csv"
    source.write_text(PEOPLE, encoding="utf-8")
    invite(workspace, "import", str(source))
    invite(workspace, "forget", "zoe.unique@example.org", "--yes")
    again = invite(workspace, "import", str(source))
    assert ("Imported people.csv into batch 'people': 0 added, 0 updated, 1 unchanged."
            in again.output)
    assert ("Left out 1 address erased on request with `invite forget`: "
            "zoe.unique@example.org") in again.output
    assert "Hint: if the person asked to come back, import again with --allow-forgotten." \
        in again.output
    assert [r.email for r in store.recipients()] == ["other@example.org"]

    back = invite(workspace, "import", str(source), "--allow-forgotten")
    assert "1 added" in back.output and "Left out" not in back.output
    assert store.find_recipient("zoe.unique@example.org").first_name == "Zoë"
    assert not ForgottenAddresses(store, [TEST_KEY]).contains("zoe.unique@example.org")


def test_a_rotated_key_still_recognises_an_address_forgotten_under_the_old_one(
        workspace: Path, store: Store) -> None:
    ForgottenAddresses(store, ["old-key"]).remember("Anna@Example.org")
    assert ForgottenAddresses(store, ["old-key", "new-key"]).contains("anna@example.org")
    assert not ForgottenAddresses(store, ["new-key"]).contains("anna@example.org")


def test_a_nomination_of_a_forgotten_address_adds_nobody_and_says_nothing_of_it(
        workspace: Path, store: Store) -> None:
    from fastapi.testclient import TestClient

    from rsvp.config import load_event
    from rsvp.i18n import catalogue
    from rsvp.settings import load_settings
    from rsvp.web.app import create_app
    from tests.conftest import person
    from tests.test_app import OPEN, form_url

    settings = load_settings(workspace, ENV)
    store.add_recipients([person("anna@example.org", "en", role="network_manager"),
                          person("gone@example.org", "en")])
    invite(workspace, "forget", "gone@example.org", "--yes")
    client = TestClient(create_app(settings, load_event(settings.event_file), store,
                                   clock=lambda: OPEN))
    page = client.post(form_url(settings, store, store.find_recipient("anna@example.org"), "en"),
                       data={"attendance": "yes", "parts": ["symposium"],
                             "nominee_name": "Gone Again", "nominee_email": "GONE@example.org",
                             "nominee_organisation": "", "nominee_role": "company"})
    assert page.status_code == 200
    said = catalogue("en").t("page.nominee_pending", name="Gone Again", email="GONE@example.org")
    assert said in page.text
    assert [r.email for r in store.recipients()] == ["anna@example.org"]


def test_forget_finds_a_preview_of_an_internationalised_address_in_its_ascii_form(
        workspace: Path, store: Store) -> None:
    source = workspace / "people.csv"
    source.write_text("email,last_name\nanna@bücher.example,Buch\n", encoding="utf-8")
    invite(workspace, "import", str(source))
    source.unlink()
    previews = workspace / "previews"
    invite(workspace, "preview", "anna@bücher.example", "--out", str(previews))
    assert previews.stat().st_mode & 0o777 == 0o700  # the file names hold addresses
    [eml] = previews.iterdir()
    assert b"xn--" in eml.read_bytes()
    result = invite(workspace, "forget", "anna@bücher.example", "--yes", "--delete-files")
    assert "Deleted 1 file." in result.output
    assert list(previews.iterdir()) == []
