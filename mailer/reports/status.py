"""Sum up a campaign for `invite status`: mail per mailing and state, answers, quota use."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mailer.content.mailings import MAILINGS
from mailer.delivery.outbox import STATES, Outbox
from mailer.reports.scheduled import scheduled_sends
from rsvp.batches import NO_BATCH, batch_counts
from rsvp.bounces import count_bounced
from rsvp.config import EventConfig
from rsvp.nomination_review import count_pending
from rsvp.store import ATTENDANCE, Store
from rsvp.withdrawals import withdrawn_per_role

# Status runs only while no sender does, so a row still in `sending` was cut off by a
# crash and nobody knows whether the relay took it: it is reported as `unknown`.
STATUS_STATES = tuple("unknown" if state == "sending" else state for state in STATES)
ANSWER_KEYS = (*ATTENDANCE, "none")


def collect_status(store: Store, event: EventConfig) -> dict[str, Any]:
    """Gather the counts as plain JSON-ready values; rendering is separate."""
    mailings: dict[str, dict[str, int]] = {}
    counts = Outbox(store).counts()
    order = {name: index for index, name in enumerate(MAILINGS)}
    for mailing in sorted(counts, key=lambda name: (order.get(name, len(order)), name)):
        states = {state: 0 for state in STATUS_STATES}
        for state, count in counts[mailing].items():
            key = "unknown" if state == "sending" else state
            states[key] = states.get(key, 0) + count
        mailings[mailing] = states
    roles = store.role_counts()
    withdrawn = withdrawn_per_role(store)
    quotas = {role: {"quota": quota, **{key: roles.get(role, {}).get(key, 0)
                                        for key in ("yes", "admitted", "waitlisted")},
                     "withdrawn": withdrawn.get(role, 0)}
              for role, quota in event.rsvp.quotas.items()}
    return {
        "recipients": store.count_recipients(),
        "unsubscribed": store.count_unsubscribed(),
        "bounced": count_bounced(store),
        "answers": store.attendance_counts(),
        "withdrawn": sum(withdrawn.values()),
        "mailings": mailings,
        "quotas": quotas,
        "deadline": event.rsvp.deadline.isoformat(),
        "admission": event.rsvp.admission,
        "nominations_pending": count_pending(store),
        "batches": batch_counts(store),
        "scheduled": scheduled_sends(store, event.zone),
    }


def render_status(status: dict[str, Any], console: Console) -> None:
    """Print the status as tables a person reads at a glance."""
    console.print(f"Recipients: {status['recipients']} ({status['unsubscribed']} unsubscribed, "
                  f"{status['bounced']} bounced)", markup=False, highlight=False)
    console.print(f"Deadline: {status['deadline']}  Admission: {status['admission']}",
                  markup=False, highlight=False)
    if status["nominations_pending"]:
        console.print(f"Nominations waiting for your decision: {status['nominations_pending']} "
                      "(invite nominations)", markup=False, highlight=False)
    console.print(_mailings_table(status["mailings"]))
    answers = Table(title="Answers")
    answers.add_column("answer")
    answers.add_column("people", justify="right")
    for key in ANSWER_KEYS:
        answers.add_row("no answer" if key == "none" else key, str(status["answers"].get(key, 0)),
                        end_section=key == "none")
    answers.add_row("total", str(sum(status["answers"].values())))
    console.print(answers)
    if status["quotas"]:
        console.print(_quotas_table(status["quotas"]))
    if status["withdrawn"]:
        count = status["withdrawn"]
        console.print(f"Withdrawn: {count} admitted {'person' if count == 1 else 'people'} "
                      "said no since; their places are free again (invite status --people "
                      "--admission withdrawn)", markup=False, highlight=False)
    if any(batch["batch"] is not None for batch in status["batches"]):
        console.print(_batches_table(status["batches"]))
    for send in status["scheduled"]:
        console.print(f"Scheduled send {send['id']}: {send['mailing']} ({send['selection']}) "
                      f"at {send['time']}, {send['people']} "
                      f"{'person' if send['people'] == 1 else 'people'}, {send['state']} "
                      "(invite schedule)", markup=False, highlight=False)


def _mailings_table(mailings: dict[str, dict[str, int]]) -> Table:
    states = list(STATUS_STATES)
    for counts in mailings.values():
        states += [state for state in counts if state not in states]
    table = Table(title="Mail per mailing and state")
    table.add_column("mailing")
    for state in states:
        table.add_column(state, justify="right")
    table.add_column("total", justify="right")
    for mailing, counts in mailings.items():
        table.add_row(Text(mailing), *(str(counts.get(state, 0)) for state in states),
                      str(sum(counts.values())))
    if not mailings:
        table.add_row("(nothing queued yet)", *("" for _ in states), "")
    return table


def _quotas_table(quotas: dict[str, dict[str, int]]) -> Table:
    table = Table(title="Quota use per role")
    for name in ("role", "quota", "yes", "admitted", "places left", "waitlisted", "withdrawn"):
        table.add_column(name, justify="left" if name == "role" else "right")
    for role, use in quotas.items():
        table.add_row(Text(role), str(use["quota"]), str(use["yes"]), str(use["admitted"]),
                      str(max(use["quota"] - use["admitted"], 0)), str(use["waitlisted"]),
                      str(use["withdrawn"]))
    return table


def _batches_table(batches: list[dict[str, Any]]) -> Table:
    """Per batch: people, the mails sent to them per mailing, and their answers."""
    mailings = list(dict.fromkeys(name for batch in batches for name in batch["sent"]))
    table = Table(title="Per batch")
    table.add_column("batch")
    table.add_column("people", justify="right")
    for name in mailings:
        table.add_column(f"{name} sent", justify="right")
    for key in ANSWER_KEYS:
        table.add_column("no answer" if key == "none" else key, justify="right")
    for batch in batches:
        table.add_row(Text(batch["batch"] or NO_BATCH), str(batch["people"]),
                      *(str(batch["sent"].get(name, 0)) for name in mailings),
                      *(str(batch["answers"][key]) for key in ANSWER_KEYS))
    return table
