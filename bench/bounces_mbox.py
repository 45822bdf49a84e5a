"""Benchmark: `invite bounces --mbox` over 10,000 bounce reports (#9).

Builds a workspace of N recipients (default 10,000) whose invitation is recorded as
sent (outbox rows with Message-IDs, written in bulk: the send itself is measured by
send_throughput.py), then an mbox of N reports made from tests/bounce_samples/ (Postfix,
Exim, Exchange Online, Gmail, vague, soft, delay warnings, out-of-office in de/fr/en,
forged ones), each to the VERP address of its recipient's outbox row. Times the command
twice: the first pass records everything, the second finds everything already seen.

    .venv/bin/python bench/bounces_mbox.py            # 10,000 reports
    .venv/bin/python bench/bounces_mbox.py --count 2000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailer.delivery import verp
from mailer.people.workspace import init_workspace
from rsvp.store import NewRecipient, open_store
from tests.bounce_corpus import sample, write_mbox

SECRET_KEY = "bench-secret-key-0123456789abcdef"
BOUNCE_ADDRESS = "bounces@example.org"
# The mix of a real bounce folder: mostly hard bounces, some soft and delays, a share of
# out-of-office replies, and a little that proves nothing or is not a report at all.
MIX = (["postfix_user_unknown"] * 4 + ["exim_failed", "exchange_o365", "gmail_no_such_user"] * 2
       + ["vague_verp_only", "postfix_mailbox_full", "postfix_mailbox_full", "postfix_delayed",
          "ooo_de", "ooo_fr", "ooo_en", "forged_no_proof", "newsletter"])


def build(count: int, base: Path) -> tuple[Path, Path]:
    """The workspace and the mbox of `count` reports."""
    folder = init_workspace(base / "ws")
    (folder / "recipients.csv").unlink()
    os.environ["INVITE_SECRET_KEY"] = SECRET_KEY
    store = open_store(folder / "invite.db")
    try:
        store.add_recipients([
            NewRecipient(email=f"person{i}@example.org", email_ascii=f"person{i}@example.org",
                         fields={"language": ("de", "fr", "en")[i % 3]}, extra={})
            for i in range(count)])
        with store.write():
            store.conn.execute(
                "INSERT INTO outbox (recipient_id, mailing, state, attempts, message_id, "
                "queued_at, updated_at, sent_at) SELECT id, 'invitation', 'sent', 1, "
                "'<' || id || '.bench@example.org>', '2026-11-30T08:00:00+00:00', "
                "'2026-11-30T08:00:00+00:00', '2026-11-30T08:00:00+00:00' FROM recipients")
        rows = [(row[0], row[1], row[2]) for row in store.conn.execute(
            "SELECT o.id, r.email, o.message_id FROM outbox o "
            "JOIN recipients r ON r.id = o.recipient_id ORDER BY o.id")]
    finally:
        store.close()
    messages = [sample(MIX[index % len(MIX)], verp.encode(BOUNCE_ADDRESS, row_id, (SECRET_KEY,)),
                       email, message_id, f"bench{index}")
                for index, (row_id, email, message_id) in enumerate(rows)]
    return folder, write_mbox(base / "bounces.mbox", messages)


def timed_pass(folder: Path, mbox: Path) -> tuple[float, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("INVITE_")}
    env.update(INVITE_SECRET_KEY=SECRET_KEY, INVITE_BOUNCE_ADDRESS=BOUNCE_ADDRESS,
               PYTHONPATH=str(ROOT), COLUMNS="200")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mailer", "bounces", "--mbox", str(mbox),
                             "-w", str(folder)], env=env, capture_output=True, text=True,
                            timeout=1800, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"invite bounces failed:\n{result.stdout}\n{result.stderr}")
    return seconds, result.stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="invite-bench-bounces-"))
    try:
        folder, mbox = build(args.count, base)
        print(f"mbox: {args.count} reports, {mbox.stat().st_size / 1e6:.1f} MB")
        for name in ("first pass", "second pass"):
            seconds, summary = timed_pass(folder, mbox)
            print(f"{name}: {seconds:.2f} s, {args.count / seconds:,.0f} bounces/s")
            print(f"  {summary}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
