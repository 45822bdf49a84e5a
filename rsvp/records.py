"""The store's rows as values: a recipient, a new one to import, a response, what an
answer page needs, and the UTC time stamps they carry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

ATTENDANCE = ("yes", "no", "maybe")
RECIPIENT_FIELDS = ("first_name", "last_name", "salutation", "title", "organisation",
                    "role", "language", "sector")


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """Format a moment for storage: UTC, ISO 8601, second precision."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    email_ascii: str
    first_name: str = ""
    last_name: str = ""
    salutation: str = ""
    title: str = ""
    organisation: str = ""
    role: str = ""
    language: str = ""
    sector: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    token_version: int = 1
    admission: str | None = None
    nominated_by: int | None = None
    unsubscribed_at: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class NewRecipient:
    """A checked row from an import file or a nomination, not yet stored."""

    email: str
    email_ascii: str
    fields: dict[str, str]
    extra: dict[str, str]


@dataclass(frozen=True)
class Response:
    recipient_id: int
    attendance: str
    answers: dict[str, Any]
    source: str
    first_at: str
    updated_at: str


def recipient_from_row(row: Any) -> Recipient:
    """Build a Recipient from a row holding the recipients table's columns."""
    return Recipient(
        id=row["id"], email=row["email"], email_ascii=row["email_ascii"],
        **{name: row[name] for name in RECIPIENT_FIELDS},
        extra=json.loads(row["extra"]), token_version=row["token_version"],
        admission=row["admission"], nominated_by=row["nominated_by"],
        unsubscribed_at=row["unsubscribed_at"],
    )


def response_from_row(row: Any) -> Response:
    return Response(recipient_id=row["recipient_id"], attendance=row["attendance"],
                    answers=json.loads(row["answers"]), source=row["source"],
                    first_at=row["first_at"], updated_at=row["updated_at"])


class AnswerView(NamedTuple):
    """A person as their answer page needs them."""

    recipient: Recipient
    response: Response | None
    has_nominees: bool
