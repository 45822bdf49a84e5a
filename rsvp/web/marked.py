"""Pages as static bytes with slots: rendered once per shape, filled per person.

Jinja renders a page with markers (`Slots`) where one person's values go; `Plan`
keeps the result as UTF-8 bytes between those slots, and a request fills them with
the person's escaped texts and checked states. Filling costs a few microseconds
where a Jinja render of the form costs hundreds (issue 3's form-page target).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any, NamedTuple

from markupsafe import Markup, escape

# A field has few values (a choice: its options; choices: the combinations people
# pick); beyond this many, filled option runs are not kept.
MAX_FILLED = 64
MARK = "\x00"
CHECKED = " checked"
CHECKED_BYTES = CHECKED.encode()


def is_checked(current: Any, value: str) -> bool:
    """Say whether the control offering `value` shows as chosen, given its field's value.

    A list holds the options chosen (choices), a bool is one checkbox, a string is the
    one option chosen (choice, attendance); `value` "" is the "no answer" radio.
    """
    if isinstance(current, list):
        return value in current
    if isinstance(current, bool):
        return current
    return (current or "") == value


def checker(current: Mapping[str, Any]) -> Callable[[str, str], str]:
    """Make the templates' `checked(field, value)`: " checked" where the person's answer says so."""
    return lambda name, value: Markup(CHECKED) if is_checked(current.get(name), value) else ""


class Slots(set[str]):
    """Markers that stand in a template for one person's values: a set of those issued."""

    def text(self, key: str) -> Markup:
        return self.mark(f"t:{key}")

    def checked(self, name: str, value: str) -> Markup:
        return self.mark(f"c:{name}:{value}")

    def mark(self, key: str) -> Markup:
        self.add(key)
        return Markup(f"{MARK}{key}{MARK}")


class _Text(NamedTuple):
    """A slot for one of the person's texts, escaped; then the static bytes after it."""

    key: str
    after: bytes


class _Options:
    """A run of one field's checkable options, then the static bytes after it.

    Its markup depends only on the field's value, and a field has few values (a choice:
    its options; choices: the combinations people pick), so each is kept once filled.
    """

    def __init__(self, name: str, values: tuple[str, ...], between: tuple[bytes, ...],
                 after: bytes) -> None:
        self.name, self.values, self.between, self.after = name, values, between, after
        self._filled: dict[Hashable, bytes] = {}  # by the field's value

    def fill(self, current: Any) -> bytes:
        key = tuple(current) if isinstance(current, list) else current
        filled = self._filled.get(key)
        if filled is None:
            marks = [CHECKED_BYTES if is_checked(current, value) else b"" for value in self.values]
            filled = b"".join(part for pair in zip(marks, (*self.between, b"")) for part in pair)
            if len(self._filled) < MAX_FILLED:
                self._filled[key] = filled
        return filled


@dataclass(frozen=True)
class Plan:
    """A page as its leading static bytes, then slots each followed by static bytes.

    Kept in UTF-8: encoding 7 KB of accented text anew costs as much as the filling."""

    head: bytes
    slots: tuple[_Text | _Options, ...]

    @classmethod
    def parse(cls, html: str, slots: Slots) -> Plan | None:
        """Split a marked render; None if a marker the render did not issue shows up."""
        parts = html.split(MARK)
        keys = parts[1::2]
        if len(parts) % 2 == 0 or not slots.issuperset(keys):
            return None
        return cls(parts[0].encode(), tuple(_group(list(zip(keys, parts[2::2])))))

    def fill(self, texts: Mapping[str, str], current: Mapping[str, Any]) -> bytes:
        """Return the page with `texts` escaped into text slots and `current` deciding checks."""
        out = [self.head]
        append = out.append
        for slot in self.slots:
            if isinstance(slot, _Text):
                text = texts[slot.key]
                if text:
                    append(escape(text).encode())
            else:
                append(slot.fill(current.get(slot.name)))
            append(slot.after)
        return b"".join(out)


def _group(pairs: list[tuple[str, str]]) -> list[_Text | _Options]:
    """Turn (marker key, static text) pairs into slots, one _Options per run of a field's options."""
    slots: list[_Text | _Options] = []
    # Runs by the field a checked marker names ("c:field:value"); texts ("t:key") have "".
    for name, group in groupby(pairs, key=lambda pair: pair[0].split(":", 2)[1]
                               if pair[0].startswith("c:") else ""):
        run = list(group)
        if not name:
            slots.extend(_Text(key[2:], static.encode()) for key, static in run)
            continue
        slots.append(_Options(name, tuple(key.split(":", 2)[2] for key, _ in run),
                              tuple(static.encode() for _, static in run[:-1]),
                              run[-1][1].encode()))
    return slots
