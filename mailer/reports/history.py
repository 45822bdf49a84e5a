"""`invite history`: every change of a person's answer as a person reads it.

The store keeps answers as the form sent them (option ids, lists, booleans); here they
become the options' labels in the event's default language ("parts: Visits, Symposium",
"french_help: yes") and times the event's clock, so nobody has to read a Python list.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from rsvp.config import EventConfig, Question

WHEN = "%Y-%m-%d %H:%M:%S %Z"


def shown_value(question: Question | None, value: Any, event: EventConfig) -> str:
    """One stored value in words: option labels, yes/no, the text itself."""
    lang = event.default_language
    if isinstance(value, bool):
        return "yes" if value else "no"
    if question is not None and question.options:
        labels = {option.id: event.text(option.label, lang) for option in question.options}
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(item), str(item)) for item in chosen) or "none"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)


def shown_answers(answers: dict[str, Any], event: EventConfig) -> list[str]:
    """'question: value' per answer, in the order of the event's questions. The question
    goes by its id, as in `invite record --answer`: its label is a whole sentence."""
    order = {question.id: index for index, question in enumerate(event.questions)}
    return [f"{key}: {shown_value(event.question(key), answers[key], event)}"
            for key in sorted(answers, key=lambda key: (order.get(key, len(order)), key))]


def history_table(email: str, rows: list[dict[str, Any]], event: EventConfig) -> Table:
    """One row per change: when (event's time zone), by whom, the answer and its details."""
    table = Table(title=f"Answers of {email}")
    table.add_column("time", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("answer", no_wrap=True)
    table.add_column("details", overflow="fold")
    zone = event.zone
    for row in rows:
        when = datetime.fromisoformat(row["recorded_at"]).astimezone(zone).strftime(WHEN)
        details = shown_answers(json.loads(row["answers"]), event)
        table.add_row(when, row["source"], row["attendance"], Text("\n".join(details)))
    return table
