"""Counted nouns (#10): every count in a message has its noun in the right number."""

from __future__ import annotations

import pytest

from rsvp.words import counted


@pytest.mark.parametrize(("count", "plural", "shown"), [
    (0, "reminders", "0 reminders"),
    (1, "reminders", "1 reminder"),
    (2, "reminders", "2 reminders"),
    (1, "bad rows", "1 bad row"),
    (1, "people", "1 person"),
    (1, "addresses", "1 address"),
    (1, "companies", "1 company"),
    (1, "waiting-list notices", "1 waiting-list notice"),
    (1, "company contacts", "1 company contact"),
    (3, "people", "3 people"),
])
def test_counted(count: int, plural: str, shown: str) -> None:
    assert counted(count, plural) == shown
