"""Let a recipient put forward another person, who becomes a recipient linked to them.

The web app only records the nominee; the sender derives from `nominated_by` and the
nomination's state who still needs an invitation, so the app never writes the outbox nor
talks SMTP. By default a nominee waits for the organiser's approval (`nomination_review`),
and who may nominate at all is limited (`nomination_gate`).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from email_validator import EmailNotValidError, validate_email

from rsvp.answers import AnswerInvalidError, check_answer
from rsvp.config import EventConfig
from rsvp.i18n import catalogue
from rsvp.nomination_gate import Gate, gate_for
from rsvp.store import Store, stamp, utcnow

log = logging.getLogger("invite.web")

FIELDS = ("name", "email", "organisation", "role")
OTHER_ROLE = "other"
MAX_LENGTH = {"name": 100, "email": 320, "organisation": 120, "role": 64}
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
    """What became of a nomination: `created` is False if the address was already invited;
    `pending` is True while the nominee waits for the organiser's approval."""

    created: bool
    name: str
    email: str
    message: str
    pending: bool = False


@dataclass(frozen=True)
class NominationForm:
    """What the form's "put forward another person" fieldset shows."""

    limit: int
    nominees: list[dict[str, str]]
    roles: list[tuple[str, str]]
    values: dict[str, str]
    labels: list[tuple[str, str]] = field(default_factory=list)
    # The event's cap per hour is reached: the form says nominations are closed for now.
    closed: bool = False

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
             organisation: str, role: str, lang: str, now: datetime | None = None,
             forgotten: Callable[[str], bool] | None = None) -> NominationResult:
    """Add the nominee as a recipient linked to the nominator, in one transaction.

    An address already invited (in any case) adds nobody and says so, and nothing more
    about that person. An address `forgotten` on request adds nobody either, and the
    nominator is told only what any nomination waiting for review is told. Raises
    AnswerInvalidError for a bad field, beyond the limits, or when this person may not
    nominate.
    """
    texts = catalogue(lang)
    clean = _check(event, Nominee(*(value.strip() for value in (name, email, organisation,
                                                                 role))), lang)
    shown = " ".join(name.split())
    limit = event.rsvp.nominations_per_recipient
    moment = now or utcnow()
    when = stamp(moment)
    conn = store.conn
    with store.write():
        person = store.recipient(nominator_id)
        gate = (gate_for(store, event.nominations, limit, person, moment) if person
                else Gate.NONE)
        if gate is Gate.NONE:
            raise AnswerInvalidError({"nominee": texts.t("errors.nominee_none")})
        if gate is Gate.CLOSED:
            raise AnswerInvalidError({"nominee": texts.t("errors.nominations_closed")})
        count = conn.execute("SELECT count(*) AS n FROM recipients WHERE nominated_by = ? "
                             "AND forgotten_at IS NULL", (nominator_id,)).fetchone()["n"]
        if count >= limit:
            raise AnswerInvalidError({"nominee": texts.t("errors.nominee_limit", limit=limit)})
        key = clean.email.casefold()
        automatic = event.nominations.approval == "automatic"
        said = "page.nominee_invited" if automatic else "page.nominee_pending"
        if forgotten is not None and forgotten(clean.email):
            log.info("skipped a nomination of a forgotten address by recipient %d",
                     nominator_id)
            # Told what a new nomination is told: nothing about who was erased.
            return NominationResult(False, shown, clean.email, texts.t(
                said, name=shown, email=clean.email), pending=not automatic)
        if conn.execute("SELECT 1 FROM recipients WHERE email_key = ?", (key,)).fetchone():
            if not automatic:
                # While the organiser reviews every nomination, the reply does not tell
                # a link holder who is on the list.
                return NominationResult(False, shown, clean.email, texts.t(
                    said, name=shown, email=clean.email), pending=True)
            return NominationResult(False, shown, clean.email,
                                    texts.t("page.nominee_known", email=clean.email))
        language = person.language if person else ""
        conn.execute(
            "INSERT INTO recipients (email_key, email, email_ascii, first_name, last_name, "
            "organisation, role, language, nominated_by, nomination, nominated_at, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, clean.email, clean.email_ascii, clean.first_name, clean.last_name,
             clean.organisation, clean.role,
             language if language in event.languages else event.default_language,
             nominator_id, "approved" if automatic else "pending", when, when, when))
    return NominationResult(True, shown, clean.email,
                            texts.t(said, name=shown, email=clean.email), pending=not automatic)


def nominees(store: Store, nominator_id: int) -> list[dict[str, str]]:
    """The people this person put forward, as they typed them (nothing they did since)."""
    return [{"name": " ".join(p for p in (row["first_name"], row["last_name"]) if p),
             "email": row["email"], "organisation": row["organisation"], "role": row["role"]}
            for row in store.conn.execute(
                "SELECT first_name, last_name, email, organisation, role FROM recipients "
                "WHERE nominated_by = ? AND forgotten_at IS NULL ORDER BY id", (nominator_id,))]


def nomination_form(store: Store, event: EventConfig, nominator_id: int | None, lang: str,
                    typed: Mapping[str, str] | None = None, gate: Gate = Gate.OPEN
                    ) -> NominationForm:
    """Gather what the fieldset needs: the limit, earlier nominees, roles and typed values;
    `gate` (from `nomination_gate.gate_for`) hides the fieldset or closes it for now.
    Without `nominator_id` (a test link's view) there are no earlier nominees to list."""
    texts = catalogue(lang)
    legend = texts.t("page.nominee_legend")
    # The error summary names the fieldset too: "email address" alone would be ambiguous.
    labels = [("nominee", legend), *((f"nominee_{name}", f"{legend} – "
                                      + texts.t(f"page.nominee_{name}")) for name in FIELDS)]
    return NominationForm(
        limit=0 if gate is Gate.NONE else event.rsvp.nominations_per_recipient,
        closed=gate is Gate.CLOSED,
        nominees=nominees(store, nominator_id) if nominator_id is not None else [],
        roles=[(role, role_label(role, lang)) for role in nominee_roles(event)],
        values={name: (typed or {}).get(name, "") for name in FIELDS},
        labels=labels)
