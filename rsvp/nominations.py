"""Let a recipient put forward another person, who becomes a recipient linked to them.

The web app only records the nominee; the sender derives from `nominated_by` who still
needs an invitation, so the app never writes the outbox nor talks SMTP.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from email_validator import EmailNotValidError, validate_email

from rsvp.answers import AnswerInvalidError, check_answer
from rsvp.config import EventConfig
from rsvp.i18n import catalogue
from rsvp.store import Recipient, Store, recipient_from_row, stamp, utcnow

FIELDS = ("name", "email", "organisation", "role")
OTHER_ROLE = "other"
MAX_LENGTH = {"name": 200, "email": 320, "organisation": 200, "role": 64}
# Besides control characters, these break lines in mail headers and most viewers.
LINE_SEPARATORS = ("\u2028", "\u2029")


class Nominee(NamedTuple):
    """What a person typed about whom they put forward, before any check."""

    name: str
    email: str
    organisation: str
    role: str


@dataclass(frozen=True)
class NominationResult:
    """What became of a nomination: `created` is False if the address was already invited."""

    created: bool
    name: str
    email: str
    message: str


@dataclass(frozen=True)
class NominationForm:
    """What the form's "put forward another person" fieldset shows."""

    limit: int
    nominees: list[dict[str, str]]
    roles: list[tuple[str, str]]
    values: dict[str, str]
    labels: list[tuple[str, str]] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return max(self.limit - len(self.nominees), 0)

    @property
    def max_length(self) -> dict[str, int]:
        return MAX_LENGTH


def nominee_roles(event: EventConfig) -> list[str]:
    """The roles a nominee may take: those with a quota, plus "other"; none without quotas."""
    roles = list(event.rsvp.quotas)
    return [*roles, OTHER_ROLE] if roles and OTHER_ROLE not in roles else roles


def role_label(role: str, lang: str) -> str:
    """Name a role from the catalogue's [roles]; a role it lacks shows as its id."""
    texts = catalogue(lang)
    return texts.t(f"roles.{role}") if texts.has(f"roles.{role}") else role


def nominee_from_form(form: Mapping[str, Any]) -> dict[str, str]:
    """Collect the form's nominee_* fields as typed (missing ones empty)."""
    values = {name: form.get(f"nominee_{name}") for name in FIELDS}
    return {name: value if isinstance(value, str) else "" for name, value in values.items()}


def read_nominee(event: EventConfig, raw: object, lang: str) -> Nominee | None:
    """Return the nominee in `raw` (form fields or the API's object), None if nobody is put
    forward, or raise AnswerInvalidError naming each bad field."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - set(FIELDS) or not all(
            isinstance(value, str) for value in raw.values()):
        raise AnswerInvalidError({"nominee": catalogue(lang).t("errors.nominee")})
    nominee = Nominee(*(str(raw.get(name, "")).strip() for name in FIELDS))
    # A role alone means nobody: the select always sends one, the blank choice at least.
    if not (nominee.name or nominee.email or nominee.organisation):
        return None
    _check(event, nominee, lang)
    return nominee


def check_submission(event: EventConfig, attendance: str | None, answers: Mapping[str, Any],
                     nominee: object, lang: str) -> tuple[str, dict[str, Any], Nominee | None]:
    """Check the answer and the nominee together, so that every mistake shows at once."""
    errors: dict[str, str] = {}
    clean: tuple[str, dict[str, Any]] | None = None
    checked = None
    try:
        clean = check_answer(event, attendance, answers, lang)
    except AnswerInvalidError as invalid:
        errors.update(invalid.errors)
    try:
        checked = read_nominee(event, nominee, lang)
    except AnswerInvalidError as invalid:
        errors.update(invalid.errors)
    if errors or clean is None:
        raise AnswerInvalidError(errors)
    return clean[0], clean[1], checked


@dataclass(frozen=True)
class _Clean:
    first_name: str
    last_name: str
    email: str
    email_ascii: str
    organisation: str
    role: str


def _check(event: EventConfig, nominee: Nominee, lang: str) -> _Clean:
    """Return the nominee ready to store, or raise AnswerInvalidError per field."""
    texts = catalogue(lang)
    errors: dict[str, str] = {}
    for name, value in nominee._asdict().items():
        if any(unicodedata.category(c) in ("Cc", "Cs") or c in LINE_SEPARATORS for c in value):
            errors[f"nominee_{name}"] = texts.t("errors.control")
        elif len(value) > MAX_LENGTH[name]:
            errors[f"nominee_{name}"] = texts.t("errors.too_long", max=MAX_LENGTH[name],
                                                length=len(value))
    email = email_ascii = ""
    if not nominee.name:
        errors["nominee_name"] = texts.t("errors.nominee_name")
    if not nominee.email:
        errors["nominee_email"] = texts.t("errors.nominee_email")
    elif "nominee_email" not in errors:
        try:
            valid = validate_email(nominee.email, check_deliverability=False,
                                   allow_smtputf8=False)
            email, email_ascii = valid.normalized, valid.ascii_email or valid.normalized
        except EmailNotValidError as error:
            errors["nominee_email"] = texts.t("errors.nominee_email_invalid", reason=str(error))
    roles = nominee_roles(event)
    if roles and nominee.role not in roles and "nominee_role" not in errors:
        errors["nominee_role"] = texts.t("errors.nominee_role")
    if errors:
        raise AnswerInvalidError(errors)
    name = " ".join(nominee.name.split())
    first, _, last = name.rpartition(" ")
    return _Clean(first_name=first, last_name=last, email=email, email_ascii=email_ascii,
                  organisation=" ".join(nominee.organisation.split()),
                  role=nominee.role if roles else "")


def nominate(store: Store, event: EventConfig, nominator_id: int, name: str, email: str,
             organisation: str, role: str, lang: str, now: datetime | None = None
             ) -> NominationResult:
    """Add the nominee as a recipient linked to the nominator, in one transaction.

    An address already invited (in any case) adds nobody and says so, and nothing more
    about that person. Raises AnswerInvalidError for a bad field or beyond the limit.
    """
    texts = catalogue(lang)
    clean = _check(event, Nominee(*(value.strip() for value in (name, email, organisation,
                                                                 role))), lang)
    shown = " ".join(name.split())
    limit = event.rsvp.nominations_per_recipient
    if limit <= 0:
        raise AnswerInvalidError({"nominee": texts.t("errors.nominee_none")})
    when = stamp(now or utcnow())
    conn = store.conn
    with store.write():
        nominator = conn.execute("SELECT language FROM recipients WHERE id = ?",
                                 (nominator_id,)).fetchone()
        count = conn.execute("SELECT count(*) AS n FROM recipients WHERE nominated_by = ? "
                             "AND forgotten_at IS NULL", (nominator_id,)).fetchone()["n"]
        if count >= limit:
            raise AnswerInvalidError({"nominee": texts.t("errors.nominee_limit", limit=limit)})
        key = clean.email.casefold()
        if conn.execute("SELECT 1 FROM recipients WHERE email_key = ?", (key,)).fetchone():
            return NominationResult(False, shown, clean.email,
                                    texts.t("page.nominee_known", email=clean.email))
        language = nominator["language"] if nominator else ""
        conn.execute(
            "INSERT INTO recipients (email_key, email, email_ascii, first_name, last_name, "
            "organisation, role, language, nominated_by, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, clean.email, clean.email_ascii, clean.first_name, clean.last_name,
             clean.organisation, clean.role,
             language if language in event.languages else event.default_language,
             nominator_id, when, when))
    return NominationResult(True, shown, clean.email,
                            texts.t("page.nominee_invited", name=shown, email=clean.email))


def nominees(store: Store, nominator_id: int) -> list[dict[str, str]]:
    """The people this person put forward, as they typed them (nothing they did since)."""
    return [{"name": " ".join(p for p in (row["first_name"], row["last_name"]) if p),
             "email": row["email"], "organisation": row["organisation"], "role": row["role"]}
            for row in store.conn.execute(
                "SELECT first_name, last_name, email, organisation, role FROM recipients "
                "WHERE nominated_by = ? AND forgotten_at IS NULL ORDER BY id", (nominator_id,))]


def nomination_form(store: Store, event: EventConfig, nominator_id: int, lang: str,
                    typed: Mapping[str, str] | None = None) -> NominationForm:
    """Gather what the fieldset needs: the limit, earlier nominees, roles and typed values."""
    texts = catalogue(lang)
    legend = texts.t("page.nominee_legend")
    # The error summary names the fieldset too: "email address" alone would be ambiguous.
    labels = [("nominee", legend), *((f"nominee_{name}", f"{legend} – "
                                      + texts.t(f"page.nominee_{name}")) for name in FIELDS)]
    return NominationForm(
        limit=event.rsvp.nominations_per_recipient,
        nominees=nominees(store, nominator_id),
        roles=[(role, role_label(role, lang)) for role in nominee_roles(event)],
        values={name: (typed or {}).get(name, "") for name in FIELDS},
        labels=labels)


def nominator_of(store: Store, nominator_id: int) -> Recipient | None:
    """The person who put someone forward, unless they were forgotten since."""
    row = store.conn.execute("SELECT * FROM recipients WHERE id = ? AND forgotten_at IS NULL",
                             (nominator_id,)).fetchone()
    return recipient_from_row(row) if row else None
