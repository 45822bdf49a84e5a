"""Withdrawals: admitted people who said no since, whose place is free again (#10).

`withdrawn` is a value of `recipients.admission` beside the organiser's decisions: the
person holds no place (quotas count `admitted` only), and every list that shows the
admission (status, exports, the workbook, `--where admission=withdrawn`) shows why
the place is free without a special case. A later yes makes them an applicant again
under selection (the organiser decides, as for anyone) and takes the next free place
under first-come (rsvp.admission).

The organiser learns of withdrawals at the next command (`pending_notice`): which ones
were told is kept in `meta` as the highest `admission_order` shown, the counter
rsvp.admission bumps at every change of a place.
"""

from __future__ import annotations

from dataclasses import dataclass

from rsvp.store import Store

WITHDRAWN = "withdrawn"
_SEEN = "withdrawals_seen"
_IS_WITHDRAWN = f"admission = '{WITHDRAWN}'"


@dataclass(frozen=True)
class Withdrawal:
    """One person who gave up their place, as the organiser's note names them."""

    email: str
    name: str
    order: int

    @property
    def shown(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


def withdrawn_per_role(store: Store) -> dict[str, int]:
    """How many withdrew, per role (for `invite status`)."""
    return {row["role"]: int(row["n"]) for row in store.conn.execute(
        f"SELECT role, count(*) AS n FROM recipients WHERE {_IS_WITHDRAWN} GROUP BY role")}


def unseen(store: Store) -> list[Withdrawal]:
    """The withdrawals the organiser has not been told about yet, oldest first."""
    row = store.conn.execute("SELECT value FROM meta WHERE key = ?", (_SEEN,)).fetchone()
    seen = int(row["value"]) if row else 0
    return [Withdrawal(r["email"], " ".join(p for p in (r["first_name"], r["last_name"]) if p),
                       int(r["admission_order"]))
            for r in store.conn.execute(
                f"SELECT email, first_name, last_name, admission_order FROM recipients "
                f"WHERE {_IS_WITHDRAWN} AND forgotten_at IS NULL AND admission_order > ? "
                "ORDER BY admission_order", (seen,))]


def mark_seen(store: Store, withdrawals: list[Withdrawal]) -> None:
    """Remember that these withdrawals were told, so the next command stays quiet."""
    if not withdrawals:
        return
    with store.write():
        store.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
            "value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
            (_SEEN, str(max(w.order for w in withdrawals))))


def notice(withdrawals: list[Withdrawal]) -> str:
    """The organiser's one line about `withdrawals` (empty when there are none)."""
    if not withdrawals:
        return ""
    count = len(withdrawals)
    who = "admitted person" if count == 1 else "admitted people"
    names = ", ".join(w.shown for w in withdrawals[:5]) + (" ..." if count > 5 else "")
    return (f"Note: {count} {who} withdrew since you last looked, so their places are free: "
            f"{names} (invite status --people)")


def pending_notice(store: Store) -> str:
    """Tell the organiser's next command about new withdrawals, once: the line, or ''."""
    found = unseen(store)
    mark_seen(store, found)
    return notice(found)
