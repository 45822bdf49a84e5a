"""A bounced person (#9) is explained as such and the mark can be taken off:
`invite send --again` says their address bounced, `invite admit` warns that they will not
be told, and `invite bounces --clear EMAIL` makes mail go to them again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mailer.cli import app
from mailer.content.mailings import Mailing
from mailer.delivery.eligibility import still_due
from mailer.delivery.outbox import Outbox, Outcome
from mailer.delivery.resend import requeue_again
from rsvp.bounces import (
    HARD,
    SOFT,
    BounceRecord,
    bounced_by_id,
    clear_bounce,
    record_bounces,
)
from rsvp.store import Store
from tests.conftest import TEST_KEY, person


def invite(workspace: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-w", str(workspace)],
                              env={"INVITE_SECRET_KEY": TEST_KEY}, catch_exceptions=False)


def bounced(store: Store, email: str, kind: str = HARD) -> int:
    recipient_id = store.find_recipient(email).id
    record_bounces(store, [BounceRecord(f"k-{email}-{kind}", kind, recipient_id, None, "5.1.1",
                                        "550 5.1.1 user unknown")], 3)
    return recipient_id


def test_again_says_the_address_bounced(store: Store) -> None:
    store.add_recipients([person("anna@partner.example")])
    outbox = Outbox(store)
    for mailing in ("invitation", "reminder"):
        outbox.queue(mailing)
        items = list(outbox.pending(mailing))
        outbox.claim([(item.id, f"<{mailing}{item.id}@x>") for item in items])
        outbox.finish([Outcome(item.id, "sent", "250 OK") for item in items])
    again = requeue_again(store, Mailing.of("reminder"), [bounced(store, "anna@partner.example")])
    assert again.not_due == [("anna@partner.example: no longer due for the reminder (their "
                             "address bounced: 550 5.1.1 user unknown); not sent again")]


def test_admit_warns_about_a_bounced_address(workspace: Path, store: Store) -> None:
    store.add_recipients([person("ada@example.org", role="company")])
    store.record_answer(store.find_recipient("ada@example.org").id, "yes", {}, "web")
    bounced(store, "ada@example.org")
    result = invite(workspace, "admit", "ada@example.org")
    assert result.exit_code == 0, result.output
    assert ("Warning: ada@example.org's address bounced (550 5.1.1 user unknown) and they "
            "will not be told") in result.stderr


def test_clear_takes_the_mark_off_and_mail_is_due_again(workspace: Path, store: Store) -> None:
    store.add_recipients([person("a@x.org"), person("b@x.org")])
    dead = bounced(store, "a@x.org")
    bounced(store, "b@x.org", SOFT)  # counted, not marked
    result = invite(workspace, "bounces", "--clear", "a@x.org", "B@x.org")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        ("a@x.org: bounce mark cleared (was: 550 5.1.1 user unknown); later mailings go to "
        "them again"),
        "B@x.org: not marked bounced; nothing to clear"]
    assert bounced_by_id(store) == {}
    assert store.conn.execute("SELECT sum(soft_bounces) FROM recipients").fetchone()[0] == 0
    due = store.conn.execute(f"SELECT count(*) FROM recipients r WHERE r.id = ? AND "
                             f"({still_due(Mailing.of('invitation'))})", (dead,)).fetchone()[0]
    assert due == 1


def test_clear_with_an_unknown_address_changes_nobody(workspace: Path, store: Store) -> None:
    store.add_recipients([person("a@x.org")])
    bounced(store, "a@x.org")
    result = CliRunner().invoke(app, ["bounces", "--clear", "a@x.org", "nobody@x.org", "-w",
                                      str(workspace)], env={"INVITE_SECRET_KEY": TEST_KEY})
    assert result.exit_code == 1
    assert "no recipient 'nobody@x.org'" in result.output
    assert list(bounced_by_id(store)) == [store.find_recipient("a@x.org").id]
    wrong = CliRunner().invoke(app, ["bounces", "--clear", "-w", str(workspace)],
                               env={"INVITE_SECRET_KEY": TEST_KEY})
    assert wrong.exit_code == 1 and "--clear takes addresses" in wrong.output


def test_clear_queues_again_the_mail_the_mark_called_off(store: Store) -> None:
    store.add_recipients([person("a@x.org"), person("b@x.org")])
    outbox = Outbox(store)
    outbox.queue("invitation")
    dead = bounced(store, "a@x.org")
    states = dict(store.conn.execute("SELECT recipient_id, state || '/' || last_reply "
                                     "FROM outbox").fetchall())
    alive = store.find_recipient("b@x.org").id
    assert states == {dead: "cancelled/bounced", alive: "queued/"}
    assert clear_bounce(store, dead) == "550 5.1.1 user unknown"
    assert [item.recipient.id for item in outbox.pending("invitation")] == [dead, alive]


def test_a_mailbox_without_its_option_is_explained(workspace: Path) -> None:
    result = CliRunner().invoke(app, ["bounces", "bounces.mbox", "-w", str(workspace)],
                                env={"INVITE_SECRET_KEY": TEST_KEY})
    assert result.exit_code == 1
    assert "'bounces.mbox' is taken as an address, which only --clear uses" in result.output
    assert "invite bounces --mbox bounces.mbox" in result.output
