"""Counted nouns for the organiser's messages: "1 reminder", "2 reminders", "1 person".

Every message with a count goes through `counted`, so that no line reads "1 rows".
"""

from __future__ import annotations

# Plurals that dropping the last "s" does not turn back into the singular.
IRREGULAR = {"people": "person", "addresses": "address", "companies": "company",
             "entries": "entry", "replies": "reply", "batches": "batch"}


def singular(plural: str) -> str:
    """The singular of `plural`, for the nouns our messages count (last word only)."""
    head, _, last = plural.rpartition(" ")
    one = IRREGULAR.get(last, last.removesuffix("s"))
    return f"{head} {one}" if head else one


def counted(count: int, plural: str) -> str:
    """`count` with `plural` in the right number: counted(1, "rows") is "1 row"."""
    return f"{count} {singular(plural) if count == 1 else plural}"
