"""The mailings as values: which kinds exist, and one immutable (kind, round) per outbox key.

The outbox stores a mailing as a text key (`invitation`, `update-2`); it is parsed into
a `Mailing` once where it enters (the CLI option, an outbox row) and read as what it
means everywhere else: its kind, the round of an update (the calendar's SEQUENCE),
whether it carries a calendar or tells a decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from rsvp.errors import InviteError

MAILINGS = ("invitation", "reminder", "confirmation", "regret", "waitlist", "update",
            "withdrawal", "agenda", "timetable")
# What a run of each mailing is called in questions and reports.
PLURALS = {"invitation": "invitations", "reminder": "reminders",
           "confirmation": "confirmations", "regret": "regret notices",
           "waitlist": "waiting-list notices", "update": "updates",
           "withdrawal": "withdrawal acknowledgements", "agenda": "meeting agendas",
           "timetable": "host timetables"}
# Mailings that tell an admission decision; a pending one whose decision changed is cancelled.
# A `withdrawal` acknowledges that an admitted person gave their place up (#10).
WITHDRAWAL = "withdrawal"
DECISION_MAILINGS = ("confirmation", "regret", "waitlist", WITHDRAWAL)
# Mailings that carry the event as an iCalendar file.
CALENDAR_MAILINGS = ("confirmation", "update")
UPDATE = "update"
# The brokerage plan (#11): each `invite meetings publish` that tells someone is a
# round N, queued as `agenda-N` / `timetable-N` by the publisher, never by `queue`.
AGENDA = "agenda"
TIMETABLE = "timetable"
PUBLISHED = (AGENDA, TIMETABLE)
ROUNDS = (UPDATE, *PUBLISHED)


@dataclass(frozen=True, slots=True)
class Mailing:
    """One mailing: its `kind`, and for `update` the `round` (1, 2, ...: the calendar
    SEQUENCE it carries; 0 while the round is not chosen yet); `agenda` and `timetable`
    have rounds too, one per publish of the meeting plan. `also_maybe`: a reminder that
    also goes to those who answered maybe (`--include-maybe`); the outbox key is the same,
    so nobody gets a second reminder either way."""

    kind: str
    round: int = 0
    also_maybe: bool = False

    @classmethod
    def of(cls, value: Mailing | str) -> Mailing:
        """The mailing an outbox key names: 'update-2' gives Mailing('update', 2)."""
        if isinstance(value, Mailing):
            return value
        kind, _, number = value.partition("-")
        if kind in ROUNDS and number.isdigit():
            return cls(kind, int(number))
        return cls(value)

    @property
    def key(self) -> str:
        """The outbox key: the kind, and for a numbered update `update-N`."""
        return f"{self.kind}-{self.round}" if self.round else self.kind

    @property
    def plural(self) -> str:
        """'confirmations', 'updates', ...: how a run of this mailing is named."""
        return PLURALS[self.kind]

    @property
    def carries_calendar(self) -> bool:
        return self.kind in CALENDAR_MAILINGS

    @property
    def tells_plan(self) -> bool:
        """Whether it tells the brokerage plan (queued only by `invite meetings publish`)."""
        return self.kind in PUBLISHED

    @property
    def tells_decision(self) -> bool:
        return self.kind in DECISION_MAILINGS

    @property
    def sequence(self) -> int:
        """The calendar's SEQUENCE: 0 for the confirmation, N for update N."""
        return self.round

    def __str__(self) -> str:
        return self.key


INVITATION = Mailing("invitation")


def check_mailing(name: str) -> Mailing:
    """The mailing the organiser named, or an error listing the known ones."""
    if name not in MAILINGS:
        raise InviteError(f"unknown mailing {name!r}; use one of {', '.join(MAILINGS)}")
    return Mailing(name)
