"""check_answer: one set of rules for the HTML form and the JSON API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rsvp.answers import AnswerInvalidError, check_answer
from rsvp.config import EventConfig, load_event
from rsvp.errors import InviteError
from rsvp.i18n import catalogue

EVENT = """
[event]
title = "Answers"
start = 2030-04-10T09:00:00+02:00
end = 2030-04-11T12:00:00+02:00
timezone = "Europe/Paris"
location = "Limoges"
default_language = "de"
languages = ["de", "fr", "en"]

[sender]
from = "office@example.org"

[rsvp]
deadline = 2030-03-26T18:00:00+01:00

[[questions]]
id = "arrival"
type = "choice"
label = "Arrival"
options = [ { id = "train", label = "Train" }, { id = "car", label = "Car" } ]
required = true
when = "yes_or_maybe"

[[questions]]
id = "parts"
type = "choices"
label = "Parts"
options = [ { id = "visits", label = "Visits" }, { id = "symposium", label = "Symposium" },
            { id = "dinner", label = "Dinner" } ]
when = "yes"

[[questions]]
id = "note"
type = "text"
label = "Note"
max_length = 10

[[questions]]
id = "help"
type = "boolean"
label = "Help"
when = "yes"

[[questions]]
id = "consent"
type = "boolean"
label = "Consent"
required = true

[[questions]]
id = "guests"
type = "number"
label = "Guests"
"""


@pytest.fixture
def rich(tmp_path: Path) -> EventConfig:
    path = tmp_path / "event.toml"
    path.write_text(EVENT, encoding="utf-8")
    return load_event(path)


def problems(event: EventConfig, attendance: str | None, raw: dict[str, Any],
             lang: str = "de") -> dict[str, str]:
    with pytest.raises(AnswerInvalidError) as caught:
        check_answer(event, attendance, raw, lang)
    return caught.value.errors


def test_form_input_is_cleaned(rich: EventConfig) -> None:
    raw = {"arrival": "train", "parts": ["symposium", "visits", "symposium"],
           "note": "  hi\r\nthere ", "help": "on", "consent": "yes", "guests": "2"}
    assert check_answer(rich, "yes", raw, "de") == ("yes", {
        "arrival": "train", "parts": ["visits", "symposium"], "note": "hi\nthere",
        "help": True, "consent": True, "guests": 2})


def test_json_input_is_cleaned(rich: EventConfig) -> None:
    raw = {"arrival": "car", "parts": [], "help": False, "consent": True, "guests": 1.5}
    assert check_answer(rich, "yes", raw, "en") == ("yes", {
        "arrival": "car", "parts": [], "help": False, "consent": True, "guests": 1.5})


def test_absent_boolean_is_false_and_empty_fields_are_not_stored(rich: EventConfig) -> None:
    raw = {"arrival": "train", "note": "   ", "guests": "", "consent": "1"}
    assert check_answer(rich, "yes", raw, "de") == ("yes", {
        "arrival": "train", "parts": [], "help": False, "consent": True})


@pytest.mark.parametrize("attendance", [None, "", "perhaps", "YES"])
def test_attendance_is_required(rich: EventConfig, attendance: str | None) -> None:
    errors = problems(rich, attendance, {"consent": "yes"})
    assert errors == {"attendance": catalogue("de").t("errors.attendance")}


def test_questions_for_attendees_are_dropped_for_no(rich: EventConfig) -> None:
    raw = {"arrival": "bogus", "parts": ["visits"], "help": "yes", "consent": "yes", "note": "ok"}
    assert check_answer(rich, "no", raw, "de") == ("no", {"consent": True, "note": "ok"})


def test_yes_or_maybe_questions_are_kept_for_maybe(rich: EventConfig) -> None:
    raw = {"arrival": "car", "parts": ["visits"], "help": "yes", "consent": "yes"}
    assert check_answer(rich, "maybe", raw, "de") == ("maybe", {"arrival": "car", "consent": True})


def test_required_question_must_be_answered_when_asked(rich: EventConfig) -> None:
    errors = problems(rich, "yes", {"consent": "yes"}, "en")
    assert errors == {"arrival": catalogue("en").t("errors.required")}


def test_required_boolean_must_be_ticked(rich: EventConfig) -> None:
    errors = problems(rich, "no", {}, "fr")
    assert errors == {"consent": catalogue("fr").t("errors.must_check")}


@pytest.mark.parametrize(("field", "value", "key"), [
    ("arrival", "plane", "choice"),
    ("arrival", ["train"], "choice"),
    ("parts", ["visits", "spa"], "choices"),
    ("parts", "visits", "choices"),
    ("parts", [1], "choices"),
    ("note", 5, "text"),
    ("note", "bell\x07", "control"),
    ("note", "nul\x00", "control"),
    ("note", "half\ud800", "control"),
    ("help", "perhaps", "boolean"),
    ("help", 1, "boolean"),
    ("guests", "two", "number"),
    ("guests", True, "number"),
    ("guests", float("nan"), "number"),
    ("guests", "inf", "number"),
    ("guests", [2], "number"),
])
def test_bad_values_name_the_question(rich: EventConfig, field: str, value: Any, key: str) -> None:
    raw = {"arrival": "train", "consent": "yes", field: value}
    assert problems(rich, "yes", raw) == {field: catalogue("de").t(f"errors.{key}")}


def test_too_long_text_says_the_limit_and_the_length(rich: EventConfig) -> None:
    errors = problems(rich, "no", {"consent": "yes", "note": "x" * 11})
    assert errors == {"note": "Bitte kürzen Sie Ihre Antwort auf höchstens 10 Zeichen (derzeit 11)."}


def test_text_keeps_newlines_and_tabs_and_counts_crlf_once(rich: EventConfig) -> None:
    _, answers = check_answer(rich, "no", {"consent": "yes", "note": "a\tb\r\nc\rd"}, "de")
    assert answers["note"] == "a\tb\nc\nd"
    _, answers = check_answer(rich, "no", {"consent": "yes", "note": "12345\r\n789"}, "de")
    assert answers["note"] == "12345\n789"


@pytest.mark.parametrize(("typed", "stored"), [("3", 3), (" 2.5 ", 2.5), ("2,5", 2.5), ("-1", -1)])
def test_numbers_from_the_form(rich: EventConfig, typed: str, stored: float) -> None:
    _, answers = check_answer(rich, "no", {"consent": "yes", "guests": typed}, "de")
    assert answers["guests"] == stored
    assert type(answers["guests"]) is type(stored)


def test_unknown_keys_are_named(rich: EventConfig) -> None:
    errors = problems(rich, "no", {"consent": True, "shoe_size": 44}, "en")
    assert errors == {"shoe_size": catalogue("en").t("errors.unknown")}


def test_every_mistake_is_reported_at_once(rich: EventConfig) -> None:
    errors = problems(rich, None, {"note": "x" * 20, "guests": "many", "arrival": "plane"})
    assert set(errors) == {"attendance", "note", "guests", "arrival", "consent"}


def test_the_error_is_an_invite_error(rich: EventConfig) -> None:
    with pytest.raises(InviteError, match="attendance: "):
        check_answer(rich, "nope", {"consent": True}, "en")
