"""Batches: the import each person first came with, so that mailings can go out in waves.

A person keeps the batch of their first import, so importing an updated list of the
first wave never moves anyone; naming a batch on purpose (`invite import --batch`)
moves the people of that file to it. People put forward on the web have no batch, nor
have people imported before batches existed until their next import. The web app never
reads batches: they are the organiser's way of cutting the list, nothing more.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rsvp.errors import InviteError
from rsvp.store import ATTENDANCE, Store

MAX_NAME = 60
# How people without a batch are named in reports and questions.
NO_BATCH = "(no batch)"
# Matches the listed addresses' keys without one bound parameter per address.
_LISTED = "email_key IN (SELECT value FROM json_each(?))"


@dataclass(frozen=True)
class Tagging:
    """What an import did to batches: how many joined `batch` (new, or had none yet),
    moved to it (per former batch), or kept another batch (per batch)."""

    batch: str
    joined: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)


def check_batch_name(name: str) -> str:
    """The name without surrounding blanks, or an error saying what a name may be."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InviteError(f"{name!r} cannot name a batch: it needs 1 to {MAX_NAME} printable "
                          "characters", hint="Give a short name with --batch, e.g. --batch "
                                             "companies.")
    return name


def tag_batch(store: Store, emails: list[str], batch: str, move: bool) -> Tagging:
    """Give `batch` to the listed people who have none; with `move`, to all of them."""
    keys = json.dumps([email.casefold() for email in emails])
    with store.write():
        current = Counter(row["batch"] for row in store.conn.execute(
            f"SELECT batch FROM recipients WHERE {_LISTED}", (keys,)))
        joined = current.pop(None, 0)
        current.pop(batch, None)
        others = dict(sorted(current.items()))
        update = f"UPDATE recipients SET batch = ? WHERE {_LISTED} AND "
        if move:
            store.conn.execute(update + "(batch IS NULL OR batch != ?)", (batch, keys, batch))
        else:
            store.conn.execute(update + "batch IS NULL", (batch, keys))
    return Tagging(batch, joined, others, {}) if move else Tagging(batch, joined, {}, others)


def batch_names(store: Store) -> list[str]:
    """The batches in the order they were first imported."""
    return [row["batch"] for row in store.conn.execute(
        "SELECT batch FROM recipients WHERE batch IS NOT NULL GROUP BY batch ORDER BY min(id)")]


def batches_by_id(store: Store) -> dict[int, str | None]:
    """Each person's batch, for exports and lists that read people through the store."""
    return {row["id"]: row["batch"]
            for row in store.conn.execute("SELECT id, batch FROM recipients")}


def batch_counts(store: Store) -> list[dict[str, Any]]:
    """Per batch (in import order, then people without one): people, their answers,
    and the mails sent to them per mailing. Everyone counts, the forgotten too (their
    attendance is kept), so the figures add up to those of the whole campaign; the
    companies' contacts (hosts) are no invitees and do not count."""
    batches: dict[str | None, dict[str, Any]] = {}
    for row in store.conn.execute(
            "SELECT r.batch, count(*) AS people, "
            + ", ".join(f"count(CASE WHEN s.attendance = '{answer}' THEN 1 END) AS {answer}"
                        for answer in ATTENDANCE)
            + ", count(CASE WHEN s.attendance IS NULL THEN 1 END) AS none "
            "FROM recipients r LEFT JOIN responses s ON s.recipient_id = r.id "
            "WHERE r.host_of IS NULL GROUP BY r.batch ORDER BY r.batch IS NULL, min(r.id)"):
        batches[row["batch"]] = {
            "batch": row["batch"], "people": row["people"],
            "answers": {answer: row[answer] for answer in (*ATTENDANCE, "none")}, "sent": {}}
    for row in store.conn.execute(
            "SELECT r.batch, o.mailing, count(*) AS n FROM outbox o "
            "JOIN recipients r ON r.id = o.recipient_id WHERE o.state = 'sent' "
            "AND r.host_of IS NULL "
            "GROUP BY r.batch, o.mailing ORDER BY min(o.id)"):
        batches[row["batch"]]["sent"][row["mailing"]] = row["n"]
    return list(batches.values())
