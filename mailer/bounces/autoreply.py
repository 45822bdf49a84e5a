"""Recognise automatic replies: out of office, "I have left the company", vacation.

They come back to the envelope sender like bounces (RFC 3834 says to answer the
Return-Path), but say nothing about the address. RFC 3834's Auto-Submitted marks most;
the headers of common mail systems (X-Autoreply, Precedence: auto_reply) and subjects
in German, French and English catch the rest.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import Message

AUTO_SUBJECT = re.compile(
    r"out of (the )?office|auto(matic)?[ -]?reply|autoreply|away from|on vacation|"
    r"abwesen|nicht im b(ü|ue)ro|automatische antwort|urlaub|"
    r"absence|absent|r(é|e)ponse automatique|en cong(é|e)s?", re.IGNORECASE)
# Not X-Auto-Response-Suppress: that asks others not to reply, and bulk mail carries it.
AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-mail-autoreply")


def is_auto_reply(message: Message) -> bool:
    """Whether `message` (not a bounce report: those are told apart first) answered by
    itself."""
    submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if submitted.startswith("auto-") or any(message.get(name) for name in AUTO_HEADERS):
        return True
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(AUTO_SUBJECT.search(subject_of(message)))


def subject_of(message: Message) -> str:
    """The Subject as text (RFC 2047 words decoded; a broken one as it stands)."""
    value = message.get("Subject", "")
    try:
        return str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeDecodeError):
        return str(value)
