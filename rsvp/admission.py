"""Who gets a place: the organiser's decisions and the first-come rule, under quotas per role.

`recipients.admission` is NULL (undecided), 'admitted', 'waitlisted' or 'declined', or
'withdrawn' (admitted, then said no: see rsvp.withdrawals).
Under `admission = "selection"` only the organiser changes it (`decide`), but for an
admitted person's no, which frees the place, and a withdrawn person's yes, which makes
them an applicant again; under "first-come" every recorded answer
also runs `apply_first_come`. Each change is
one BEGIN IMMEDIATE transaction that counts and decides together, so answers
arriving at the same moment can never admit more people than a quota allows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from rsvp.config import EventConfig
from rsvp.errors import NominationOpenError, UnknownRecipientError
from rsvp.store import Recipient, Store, stamp, utcnow
from rsvp.withdrawals import WITHDRAWN

DECISIONS = ("admitted", "waitlisted", "declined")
# Every value `admission` can hold besides NULL: the decisions and a withdrawal.
ADMISSIONS = (*DECISIONS, WITHDRAWN)
FIRST_COME = "first-come"
# The source of a withdrawal: the person's own answer (web, API or `invite record`).
ANSWER = "answer"


@dataclass(frozen=True)
class DecisionResult:
    """One person's admission before and after, and who moved up from the waiting list."""

    recipient: Recipient
    previous: str | None
    promoted: tuple[Recipient, ...] = ()
    admitted: int = 0
    quota: int | None = None

    @property
    def changed(self) -> bool:
        return self.recipient.admission != self.previous

    @property
    def warning(self) -> str | None:
        """The over-quota warning, when this decision admitted one person too many."""
        if (self.changed and self.recipient.admission == "admitted" and self.quota is not None
                and self.admitted > self.quota):
            places = "place" if self.quota == 1 else "places"
            return (f"role '{self.recipient.role}' now has {self.admitted} admitted "
                    f"for {self.quota} {places}")
        return None


def decide(store: Store, event: EventConfig, recipient_id: int, decision: str,
           source: str = "organiser", now: datetime | None = None) -> DecisionResult:
    """Record the organiser's decision; under first-come a freed place goes to the waiting list."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
    when = stamp(now or utcnow())
    with store.write():
        unapproved = _unapproved(store.conn, recipient_id)
        if unapproved:
            email, state = unapproved
            said = ("waits for your approval" if state == "pending"
                    else "was rejected, so they hold no place")
            raise NominationOpenError(
                f"{email} was put forward on the answer page and the nomination {said}",
                hint=f"To give them a place, approve it first: invite nominations --approve "
                     f"{email}")
        role, previous, _ = _state(store.conn, recipient_id)
        if previous != decision:
            _set(store.conn, recipient_id, decision, source, when)
        promoted: list[int] = []
        if event.rsvp.admission == FIRST_COME and previous == "admitted" and decision != "admitted":
            # The person just moved out stays where the organiser put them.
            promoted = _fill(store.conn, event, role, when, exclude=recipient_id)
    return _result(store, event, recipient_id, role, previous, promoted)


def apply_first_come(store: Store, event: EventConfig, recipient_id: int,
                     now: datetime | None = None) -> DecisionResult | None:
    """Follow a just-recorded answer: under first-come, the rule below; under selection,
    only a withdrawal (an admitted person who now says no loses the place, which the
    organiser gives again; rsvp.withdrawals tells them at their next command) and a yes
    after it (an applicant again).

    A yes gets a place while the role's quota has room (no quota: always), else a
    place on the waiting list, in the order of the yes answers. Someone admitted or
    waiting who changes to no or maybe leaves; a place freed goes to the first in
    line. The organiser's `declined` is never overridden. Someone admitted who says no
    has withdrawn (admission 'withdrawn': they get the `withdrawal` mailing); a yes
    later takes a place again like anyone's.
    """
    if event.rsvp.admission != FIRST_COME:
        return _withdraw_on_no(store, event, recipient_id, now)
    when = stamp(now or utcnow())
    with store.write():
        if _unapproved(store.conn, recipient_id):
            return None
        role, previous, attendance = _state(store.conn, recipient_id)
        promoted: list[int] = []
        if previous == "declined":
            pass
        elif attendance == "yes" and previous in (None, WITHDRAWN):
            quota = event.rsvp.quotas.get(role)
            has_room = quota is None or _count(store.conn, role, "admitted") < quota
            _set(store.conn, recipient_id, "admitted" if has_room else "waitlisted",
                 FIRST_COME, when)
        elif attendance != "yes" and previous in ("admitted", "waitlisted"):
            if previous == "admitted" and attendance == "no":
                _set(store.conn, recipient_id, WITHDRAWN, ANSWER, when)
            else:
                _set(store.conn, recipient_id, None, FIRST_COME, when)
            if previous == "admitted":
                promoted = _fill(store.conn, event, role, when, exclude=recipient_id)
    return _result(store, event, recipient_id, role, previous, promoted)


def _withdraw_on_no(store: Store, event: EventConfig, recipient_id: int,
                    now: datetime | None) -> DecisionResult | None:
    """Under selection: free the place of an admitted person who now says no. A maybe
    keeps it (the organiser asked them; they may still come), as does anyone else. A
    withdrawn person who says yes again applies again: undecided, for the organiser."""
    with store.write():
        if _unapproved(store.conn, recipient_id):
            return None
        role, previous, attendance = _state(store.conn, recipient_id)
        if previous == "admitted" and attendance == "no":
            _set(store.conn, recipient_id, WITHDRAWN, ANSWER, stamp(now or utcnow()))
        elif previous == WITHDRAWN and attendance == "yes":
            _set(store.conn, recipient_id, None, ANSWER, stamp(now or utcnow()))
        else:
            return None
    return _result(store, event, recipient_id, role, previous, [])


def quota_use(store: Store, event: EventConfig, role: str) -> tuple[int, int | None]:
    """(admitted, quota) of a role; quota None means places are not limited."""
    return _count(store.conn, role, "admitted"), event.rsvp.quotas.get(role)


def _result(store: Store, event: EventConfig, recipient_id: int, role: str,
            previous: str | None, promoted: list[int]) -> DecisionResult:
    after = store.recipient(recipient_id)
    assert after is not None
    admitted, quota = quota_use(store, event, role)
    moved = tuple(r for r in (store.recipient(i) for i in promoted) if r is not None)
    return DecisionResult(recipient=after, previous=previous, promoted=moved,
                          admitted=admitted, quota=quota)


def _state(conn: sqlite3.Connection, recipient_id: int) -> tuple[str, str | None, str | None]:
    row = conn.execute(
        "SELECT r.role, r.admission, s.attendance FROM recipients r "
        "LEFT JOIN responses s ON s.recipient_id = r.id WHERE r.id = ?",
        (recipient_id,)).fetchone()
    if row is None:
        raise UnknownRecipientError(f"no recipient #{recipient_id} in this workspace")
    return row["role"], row["admission"], row["attendance"]


def _unapproved(conn: sqlite3.Connection, recipient_id: int) -> tuple[str, str] | None:
    """(address, state) of a person put forward whose nomination the organiser has not
    approved: such a person holds no place, first-come or otherwise."""
    row = conn.execute("SELECT email, nomination FROM recipients WHERE id = ?",
                       (recipient_id,)).fetchone()
    if row is not None and row["nomination"] in ("pending", "rejected"):
        return row["email"], row["nomination"]
    return None


def _set(conn: sqlite3.Connection, recipient_id: int, admission: str | None, source: str,
         when: str) -> None:
    # admission_order numbers the changes in the order they happened, even within one
    # second: the waiting list is served in that order.
    conn.execute(
        "UPDATE recipients SET admission = ?, admission_at = ?, admission_source = ?, "
        "admission_order = (SELECT coalesce(max(admission_order), 0) + 1 FROM recipients), "
        "updated_at = ? WHERE id = ?", (admission, when, source, when, recipient_id))


# A person put forward whose nomination is pending or rejected never counts for a place.
_APPROVED = "coalesce(nomination, 'approved') = 'approved'"


def _count(conn: sqlite3.Connection, role: str, admission: str) -> int:
    row = conn.execute("SELECT count(*) AS n FROM recipients WHERE role = ? AND admission = ? "
                       f"AND {_APPROVED}", (role, admission)).fetchone()
    return int(row["n"])


def _fill(conn: sqlite3.Connection, event: EventConfig, role: str, when: str,
          exclude: int) -> list[int]:
    """Admit the first waiting people who still say yes while the role has room."""
    quota = event.rsvp.quotas.get(role)
    if quota is None:
        return []
    free = quota - _count(conn, role, "admitted")
    if free <= 0:
        return []
    rows = conn.execute(
        "SELECT r.id FROM recipients r JOIN responses s ON s.recipient_id = r.id "
        "WHERE r.role = ? AND r.admission = 'waitlisted' AND s.attendance = 'yes' "
        "AND r.forgotten_at IS NULL AND coalesce(r.nomination, 'approved') = 'approved' "
        "AND r.id != ? "
        "ORDER BY r.admission_order, r.id LIMIT ?",
        (role, exclude, free)).fetchall()
    promoted = [int(row["id"]) for row in rows]
    for recipient_id in promoted:
        _set(conn, recipient_id, "admitted", FIRST_COME, when)
    return promoted


def withdraw_place(store: Store, event: EventConfig, recipient_id: int,
                   now: datetime | None = None) -> list[int]:
    """Take away whatever place or waiting-list spot a person holds (a rejected
    nomination); under first-come a freed place goes to the first in line. Returns the
    ids of those who moved up."""
    when = stamp(now or utcnow())
    with store.write():
        row = store.conn.execute("SELECT role, admission FROM recipients WHERE id = ?",
                                 (recipient_id,)).fetchone()
        if row is None or row["admission"] is None:
            return []
        _set(store.conn, recipient_id, None, "organiser", when)
        if event.rsvp.admission == FIRST_COME and row["admission"] == "admitted":
            return _fill(store.conn, event, row["role"], when, exclude=recipient_id)
    return []
