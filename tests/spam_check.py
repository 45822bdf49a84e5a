"""Score mails with Debian's SpamAssassin as a receiving server would, network tests off.

Each message gets what the receiving server adds in front of it: a `Return-Path` and a
`Received` line from an outside relay, so SpamAssassin treats it as mail from the
internet (the hop is listed in X-Spam-Relays-Untrusted, which the callers check).
The relay's address is 198.18.0.25 (RFC 2544's benchmarking block): the documentation
blocks (192.0.2.0/24 and the like) would fire RCVD_ILLEGAL_IP (1.3 points) on every mail
for something no real relay sends. Two relays are used, one whose reverse name SA's
rules count in the sender's favour (`mail.…`) and one they do not know, so that no
rule is let off by a friendly host name.

All messages go through one `spamassassin --mbox` process: loading the rules costs
about a second, scoring a message a few milliseconds.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import subprocess
from dataclasses import dataclass
from email.message import EmailMessage

SPAMASSASSIN = shutil.which("spamassassin")
RELAY_IP = "198.18.0.25"
# (name, reverse DNS name) of the outside relay that hands the mail over.
HOPS = (("mail", "mail.example.org"), ("plain", "o25.sender.example.net"))
# Bayes and auto-learning off: a score must not depend on what the machine saw before.
OPTIONS = ["--local", "--nocreate-prefs", "--mbox",
           "--cf=use_bayes 0", "--cf=bayes_auto_learn 0",
           "--cf=add_header all Tests _TESTSSCORES(,)_",
           "--cf=add_header all Score _SCORE_",
           "--cf=add_header all Relays-Untrusted _RELAYSUNTRUSTED_"]
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


@dataclass(frozen=True)
class Score:
    """What SpamAssassin made of one message."""

    key: str
    score: float
    rules: dict[str, float]
    untrusted: str

    def describe(self) -> str:
        hits = ", ".join(f"{rule} {points:+.1f}" for rule, points in sorted(self.rules.items()))
        return f"{self.key}: {self.score:.1f} ({hits or 'no rule'})"


def received(data: bytes, rdns: str) -> bytes:
    """`data` as the receiving server stores it after an outside relay handed it over."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    sender = message["From"].addresses[0].addr_spec
    to = message["To"].addresses[0].addr_spec
    head = (f"Return-Path: <{sender}>\r\n"
            f"Received: from {rdns} ({rdns} [{RELAY_IP}])\r\n"
            f"\tby mx.example.net (Postfix) with ESMTPS id 4QZx1y2z3W\r\n"
            f"\tfor <{to}>; {message['Date']}\r\n")
    return head.encode("ascii") + data


def score_all(messages: dict[str, bytes], timeout: float = 300) -> dict[str, Score]:
    """Score each message (key -> bytes) as received from each hop; keys `<key>@<hop>`."""
    if SPAMASSASSIN is None:
        raise RuntimeError("spamassassin is not installed (apt-get install spamassassin)")
    order: list[str] = []
    mbox = bytearray()
    for key, data in messages.items():
        for hop, rdns in HOPS:
            stored = received(data, rdns).replace(b"\r\n", b"\n")
            order.append(f"{key}@{hop}")
            head, _, body = stored.partition(b"\n\n")
            # mboxrd: a body line starting "From " would start a new message.
            mbox += f"From sample-{len(order) - 1}@invite.invalid Mon Jan  1 00:00:00 2024\n".encode()
            mbox += head + b"\n\n" + _FROM_LINE.sub(rb">\1", body) + b"\n"
    done = subprocess.run([SPAMASSASSIN, *OPTIONS], input=bytes(mbox), capture_output=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"spamassassin failed ({done.returncode}): {done.stderr.decode()}")
    # The messages come back sorted by date, each after the "From " line it came with.
    parts = re.split(rb"^From sample-(\d+)@invite\.invalid .*\n", done.stdout, flags=re.MULTILINE)
    scores: dict[str, Score] = {}
    for number, chunk in zip(parts[1::2], parts[2::2], strict=True):
        key = order[int(number)]
        message = email.message_from_bytes(chunk, policy=email.policy.compat32)
        scores[key] = Score(key=key, score=float(message["X-Spam-Score"]),
                            rules=_rules(str(message["X-Spam-Tests"] or "")),
                            untrusted=" ".join(str(message["X-Spam-Relays-Untrusted"]).split()))
    missing = set(order) - set(scores)
    if missing:
        raise RuntimeError(f"spamassassin returned no result for {sorted(missing)}")
    return scores


def _rules(value: str) -> dict[str, float]:
    """'HTML_MESSAGE=0.001,MIME_QP=0.1' -> {'HTML_MESSAGE': 0.001, 'MIME_QP': 0.1}."""
    found = {}
    for item in "".join(value.split()).split(","):
        if item and item != "none":
            rule, _, points = item.partition("=")
            found[rule] = float(points)
    return found
