"""Read `[bounces]` of event.toml: after how many soft bounces an address counts as dead.

A full mailbox or a greylisting server is temporary, so one soft bounce marks nobody;
the same address failing `soft_limit` times (default 3, each from another report) does.
"""

from __future__ import annotations

from dataclasses import dataclass

from rsvp.toml_table import TomlTable


@dataclass(frozen=True)
class BounceRules:
    """`soft_limit`: soft bounces after which a recipient is marked bounced."""

    soft_limit: int = 3


def read_bounce_rules(top: TomlTable) -> BounceRules:
    """Read the optional `[bounces]` table, naming the key of any mistake."""
    table = top.sub("bounces", required=False)
    rules = BounceRules(soft_limit=table.get("soft_limit", int, False, 3))
    if rules.soft_limit < 1:
        raise table.fail("soft_limit", "must be 1 or more")
    table.done()
    return rules
