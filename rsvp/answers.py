"""Check an answer against the event's questions; the HTML form and the JSON API share it."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from rsvp.config import EventConfig, Question
from rsvp.errors import InviteError
from rsvp.i18n import catalogue
from rsvp.store import ATTENDANCE

TRUE_WORDS = frozenset({"yes", "on", "true", "1"})
FALSE_WORDS = frozenset({"", "no", "off", "false", "0"})
# Line breaks and tabs belong in free text; other control characters (and lone
# surrogates, which SQLite cannot store as UTF-8) are never typed by a person.
ALLOWED_CONTROLS = frozenset({"\n", "\t"})


class AnswerInvalidError(InviteError):
    """An answer breaks the event's rules; `errors` maps each field to a message for the person."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class _Invalid(Exception):
    """One question's value is unusable; carries the catalogue key (and values) to explain it."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def printable(name: object) -> str:
    """Make a client-chosen field name safe to echo back (lone surrogates cannot be encoded)."""
    return str(name).encode("utf-8", "backslashreplace").decode("utf-8")


def is_asked(question: Question, attendance: str | None) -> bool:
    """Say whether `question` applies to someone answering `attendance`."""
    if question.when == "yes":
        return attendance == "yes"
    if question.when == "yes_or_maybe":
        return attendance in ("yes", "maybe")
    return True


def check_answer(event: EventConfig, attendance: str | None, raw: Mapping[str, Any],
                 lang: str) -> tuple[str, dict[str, Any]]:
    """Return the clean (attendance, answers) or raise AnswerInvalidError with messages in `lang`.

    `raw` maps question ids to what was sent: strings (and lists for `choices`) from the
    form, JSON values from the API. Keys that name no question are errors; answers to
    questions that do not apply to this attendance are dropped.
    """
    texts = catalogue(lang)
    errors: dict[str, str] = {}
    valid_attendance = attendance if isinstance(attendance, str) and attendance in ATTENDANCE else None
    if valid_attendance is None:
        errors["attendance"] = texts.t("errors.attendance")
    known = {question.id for question in event.questions}
    for key in raw:
        if key not in known:
            errors[printable(key)] = texts.t("errors.unknown")
    answers: dict[str, Any] = {}
    for question in event.questions:
        conditional = question.when is not None
        if valid_attendance is None:
            # Without a valid attendance we cannot tell whether a conditional question
            # applies; still check what was typed so every mistake shows at once.
            if conditional and question.id not in raw:
                continue
        elif not is_asked(question, valid_attendance):
            continue
        try:
            value = _clean(question, raw.get(question.id))
            enforce_required = valid_attendance is not None or not conditional
            if enforce_required and question.required:
                _require(question, value)
        except _Invalid as problem:
            errors[question.id] = texts.t(f"errors.{problem.key}", **problem.values)
            continue
        if value is not None:
            answers[question.id] = value
    if errors or valid_attendance is None:
        raise AnswerInvalidError(errors)
    return valid_attendance, answers


def _require(question: Question, value: Any) -> None:
    if question.type == "boolean" and value is not True:
        raise _Invalid("must_check")
    if value is None or value == []:
        raise _Invalid("required")


def _clean(question: Question, value: Any) -> Any:
    """Return the value to store (None for "not answered") or raise _Invalid."""
    if question.type == "choice":
        return _clean_choice(question, value)
    if question.type == "choices":
        return _clean_choices(question, value)
    if question.type == "text":
        return _clean_text(question, value)
    if question.type == "boolean":
        return _clean_boolean(value)
    return _clean_number(value)


def _clean_choice(question: Question, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in {o.id for o in question.options}:
        raise _Invalid("choice")
    return value


def _clean_choices(question: Question, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid("choices")
    chosen = set(value)
    if chosen - {o.id for o in question.options}:
        raise _Invalid("choices")
    # Keep the organiser's order, so the same choice always stores the same list.
    return [option.id for option in question.options if option.id in chosen]


def _clean_text(question: Question, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid("text")
    # Browsers send textarea line breaks as CRLF but count them as one character.
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in ALLOWED_CONTROLS for c in text):
        raise _Invalid("control")
    if len(text) > question.max_length:
        raise _Invalid("too_long", max=question.max_length, length=len(text))
    return text or None


def _clean_boolean(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
        return False
    raise _Invalid("boolean")


def _clean_number(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Invalid("number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("number")
        return value
    if not isinstance(value, str):
        raise _Invalid("number")
    text = value.strip()
    if not text:
        return None
    if "," in text and "." not in text:
        # Without a browser's number input, people in de and fr type a decimal comma.
        text = text.replace(",", ".")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise _Invalid("number") from None
    if not math.isfinite(number):
        raise _Invalid("number")
    return number

