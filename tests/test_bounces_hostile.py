"""Bounce intake (#9) against what a stranger can send to the bounce address: one broken
message never stops the rest, a late report does not bring back a forgotten person, and
what a chunk of crafted mail holds in memory stays bounded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from mailer.bounces.intake import take_in
from mailer.delivery import verp
from rsvp.bounces import bounced_by_id
from rsvp.privacy import forget_person
from rsvp.settings import Settings
from rsvp.store import Store
from tests.bounce_corpus import sample
from tests.test_bounce_records import sent_invitations

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ("hostile_unknown_charset", "hostile_non_ascii_address", "hostile_huge_year",
           "hostile_deep_multipart")


def test_hostile_messages_are_listed_and_the_rest_of_the_chunk_is_recorded(
        store: Store, settings: Settings) -> None:
    sent = sent_invitations(store, "a@x.org", "b@x.org")
    row_a, row_b = sent["a@x.org"][0], sent["b@x.org"][0]
    hostile = [(name, sample(name, verp.encode("bounces@example.org", row_a,
                                               settings.secret_keys), "a@x.org"))
               for name in HOSTILE]
    good = sample("postfix_user_unknown", verp.encode("bounces@example.org", row_b,
                                                      settings.secret_keys), "b@x.org")
    report = take_in(store, settings, [*hostile, ("good", good)])
    assert [item.email for item in report.marked] == ["a@x.org", "b@x.org"]
    assert [source for source, _ in report.not_understood] == ["hostile_deep_multipart"]
    assert "3000 MIME parts" in report.not_understood[0][1]
    assert len(report.hard) == 4 and report.soft == []  # three reports about a
    assert set(bounced_by_id(store)) == {store.find_recipient(e).id for e in sent}


def test_a_bounce_after_forget_writes_nothing_back_and_counts_as_seen(
        store: Store, settings: Settings) -> None:
    sent = sent_invitations(store, "anna@partner.example")
    row, message_id = sent["anna@partner.example"]
    forget_person(store, store.find_recipient("anna@partner.example").id,
                  keys=settings.secret_keys)
    raw = sample("postfix_user_unknown", verp.encode("bounces@example.org", row,
                                                     settings.secret_keys),
                 "anna@partner.example", message_id, "after-forget")
    report = take_in(store, settings, [("m", raw)])
    assert (report.forgotten, report.hard, report.unmatched) == (1, [], [])
    dump = "\n".join(str(tuple(row)) for table in ("recipients", "bounces")
                     for row in store.conn.execute(f"SELECT * FROM {table}"))
    assert "anna@" not in dump
    assert take_in(store, settings, [("m", raw)]).already_seen == 1


def test_an_auto_reply_that_matches_nobody_is_listed_but_not_stored(
        store: Store, settings: Settings) -> None:
    report = take_in(store, settings, [("ooo", sample("ooo_en"))])
    assert [item.reason for item in report.auto_replies] == ["Out of Office: Invitation"]
    assert store.conn.execute("SELECT count(*) FROM bounces").fetchone()[0] == 0


MEASURE = textwrap.dedent('''
    import resource, sys, tempfile
    from pathlib import Path
    from tests.conftest import make_workspace, TEST_KEY
    from rsvp.settings import load_settings
    from rsvp.store import open_store
    from mailer.bounces.intake import take_in
    ws = make_workspace(Path(tempfile.mkdtemp()))
    settings = load_settings(ws, {"INVITE_SECRET_KEY": TEST_KEY})
    store = open_store(settings.database)
    def crafted():
        for i in range(int(sys.argv[1])):
            head = (f"From: s{i}@x.example\\r\\nSubject: Out of office \\U0001F600\\r\\n"
                    f"Message-ID: <o{i}@x>\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n\\r\\n")
            yield f"m{i}", (head + "hello \\U0001F600 " * 50000).encode()[:512 * 1024]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = take_in(store, settings, crafted())
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(report.auto_replies), (after - before) // 1024)
''')


def peak_growth_mb(count: int) -> tuple[int, int]:
    """(auto-replies read, peak RSS growth in MB) of `count` crafted 512 KiB auto-replies
    taken in by a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(count)], cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=300)
    read, grown = done.stdout.split()
    return int(read), int(grown)


def test_crafted_auto_replies_cost_bounded_memory() -> None:
    # Before: each reading kept the whole message decoded (4 bytes a character) until the
    # chunk was recorded, ~1 GB for 200; now a chunk holds at most 16 MB of raw mail.
    read, grown = peak_growth_mb(200)
    assert read == 200
    assert grown < 120, f"peak RSS grew by {grown} MB"
