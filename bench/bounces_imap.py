"""Benchmark: reading bounces over IMAP (#9), the folder's side of `invite bounces --imap`.

Starts the tests' own Dovecot on 127.0.0.1 (tests/imap_server.py: needs Debian's
dovecot-imapd and openssl), puts N bounce reports made from tests/bounce_samples/ into
a folder, and times mailer.bounces.imap fetching every new one and flagging it read,
then a second poll that finds nothing new (only the search goes over the line). The
intake that records them is measured by bounces_mbox.py.

    .venv/bin/python bench/bounces_imap.py             # 2,000 reports
    .venv/bin/python bench/bounces_imap.py --count 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailer.bounces.imap import Message, take_in_new
from rsvp.imap_settings import load_bounce_mailbox
from tests.bounce_corpus import sample
from tests.imap_server import running_dovecot


def count(messages: Iterator[Message]) -> int:
    return sum(1 for _ in messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    n = parser.parse_args().count
    with running_dovecot() as server:
        server.deliver(*(sample("postfix_user_unknown", rcpt=f"p{i}@example.net", key=str(i))
                         for i in range(n)), folder="Bench")
        mailbox = load_bounce_mailbox(server.env("tls", INVITE_BOUNCE_IMAP_FOLDER="Bench"))
        assert mailbox is not None
        start = time.perf_counter()
        read = take_in_new(mailbox, count)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = take_in_new(mailbox, count)
        idle = time.perf_counter() - start
    print(f"{read} reports fetched and flagged read in {first:.2f} s ({read / first:,.0f}/s); "
          f"a poll with nothing new ({again} read): {idle * 1000:.0f} ms")


if __name__ == "__main__":
    main()
