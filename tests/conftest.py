"""Shared fixtures: a real workspace on disk with a small event and a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rsvp.config import EventConfig, load_event
from rsvp.settings import Settings, load_settings
from rsvp.store import NewRecipient, Store, open_store

TEST_EVENT = """
[event]
title = { de = "Testtreffen", fr = "Réunion test", en = "Test meeting" }
intro = { de = "Ein Absatz.", fr = "Un paragraphe.", en = "One paragraph." }
start = 2030-04-10T09:00:00+02:00
end = 2030-04-10T18:00:00+02:00
timezone = "Europe/Paris"
location = "Limoges"
default_language = "de"
languages = ["de", "fr", "en"]

[sender]
from = "Programmbüro <office@example.org>"
reply_to = "anna@example.org"
organiser = "Dr. Anna Beispiel"
phone = "+49 30 5550100"

[rsvp]
deadline = 2030-03-26T18:00:00+01:00
admission = "selection"

[rsvp.quotas]
network_manager = 2
company = 2

[[questions]]
id = "parts"
type = "choices"
label = { de = "Teile", fr = "Parties", en = "Parts" }
options = [ { id = "visits", label = "Visits" }, { id = "symposium", label = "Symposium" } ]
when = "yes"

[[questions]]
id = "french_help"
type = "boolean"
label = { de = "Hilfe", fr = "Aide", en = "Help" }
when = "yes"

[[questions]]
id = "comment"
type = "text"
label = { de = "Kommentar", fr = "Commentaire", en = "Comment" }
max_length = 200
"""

TEST_KEY = "test-secret-key-0123456789abcdef"
# The public address of the answer page: `invite send` refuses to send without one (#8).
BASE_URL = "https://rsvp.example.org"


# For tests about what a nomination does once it is let through: the default, approval
# by the organiser, is tested in tests/test_nomination_approval.py.
AUTOMATIC_NOMINATIONS = '\n[nominations]\napproval = "automatic"\n'


def make_workspace(tmp_path: Path, more_toml: str = "") -> Path:
    """A workspace folder with the small test event (plus `more_toml`)."""
    folder = tmp_path / "ws"
    (folder / "templates").mkdir(parents=True)
    (folder / "event.toml").write_text(TEST_EVENT + more_toml, encoding="utf-8")
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace folder with the small test event."""
    return make_workspace(tmp_path)


@pytest.fixture
def settings(workspace: Path) -> Settings:
    return load_settings(workspace, {"INVITE_SECRET_KEY": TEST_KEY,
                                     "INVITE_BASE_URL": "http://testserver"})


@pytest.fixture
def event(settings: Settings) -> EventConfig:
    return load_event(settings.event_file)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings.database)
    yield opened
    opened.close()


def person(email: str, language: str = "de", **fields: str) -> NewRecipient:
    """A checked recipient row for tests that need people in the store."""
    return NewRecipient(email=email, email_ascii=email,
                        fields={"language": language, **fields}, extra={})
