"""SpamAssassin's score of every mailing in every language, as received from outside (#9).

Each mailing the example workspace can produce, in each language, 8bit and
quoted-printable, goes through Debian's SpamAssassin (`--local`, no Bayes) behind a
simulated outside relay, once with a `mail.…` reverse name and once with a plain one
(see tests/spam_check.py). Printed: a table of the highest score per mailing and
language (target: below 1.0) and the rules each hit.

Run (20-30 seconds; needs `apt-get install spamassassin`):

    .venv/bin/python bench/spam_scores.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailer.content.mailings import MAILINGS
from tests.mail_samples import LANGUAGES, compose_samples
from tests.spam_check import SPAMASSASSIN, Score, score_all

TARGET = 1.0


def main() -> None:
    if SPAMASSASSIN is None:
        sys.exit("spamassassin is not installed: apt-get install spamassassin")
    version = subprocess.run([SPAMASSASSIN, "--version"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[0]
    messages = {}
    with tempfile.TemporaryDirectory(prefix="spam-scores-") as folder:
        for encoding, eight_bit in (("8bit", True), ("qp", False)):
            for sample in compose_samples(Path(folder) / encoding, eight_bit=eight_bit):
                messages[f"{sample.name}.{encoding}"] = sample.data
    started = time.monotonic()
    scores = score_all(messages)
    took = time.monotonic() - started
    worst: dict[str, list[Score]] = defaultdict(list)
    for score in scores.values():
        worst[score.key.split(".")[0]].append(score)
    print(f"{version}; {len(scores)} messages scored in {took:.1f} s\n")
    print("| mailing | " + " | ".join(LANGUAGES) + " | rules hit |")
    print("| --- |" + " --- |" * len(LANGUAGES) + " --- |")
    highest = 0.0
    for mailing in MAILINGS:
        cells: list[str] = []
        rules: set[str] = set()
        for lang in LANGUAGES:
            mine = worst[f"{mailing}-{lang}"]
            top = max(score.score for score in mine)
            highest = max(highest, top)
            cells.append(f"{top:.1f}")
            for score in mine:
                rules.update(f"{rule} {points:g}" for rule, points in score.rules.items())
        print(f"| {mailing} | " + " | ".join(cells) + f" | {', '.join(sorted(rules))} |")
    verdict = "below" if highest < TARGET else "NOT below"
    print(f"\nhighest: {highest:.1f}, {verdict} the target of {TARGET}")


if __name__ == "__main__":
    main()
