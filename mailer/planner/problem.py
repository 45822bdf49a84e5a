"""The planning problem as plain data: what the solver, the baseline and the validator share.

Only data lives here, no rule: the validator reads the same facts as the model but
checks them with code of its own, so a mistake in the model cannot hide itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

Pair = tuple[int, str]  # (recipient id, company id)
Schedule = dict[Pair, int]  # pair -> slot index


@dataclass(frozen=True)
class Wish:
    """A meeting someone wants (weight = priority, 1 for a plain choice) or the organiser
    forces (`must`; weight 0 if nobody asked for it)."""

    person: int
    company: str
    weight: int
    must: bool = False


@dataclass(frozen=True)
class Refusal:
    """A wish that cannot be planned, and why (declined by the company, forbidden ...)."""

    person: int
    company: str
    reason: str


@dataclass(frozen=True)
class Problem:
    """Everything a plan must respect. Slots are numbered 0.. in time order; `sessions`
    gives each slot's session (gaps count only within one)."""

    slot_times: tuple[tuple[datetime, datetime], ...]
    sessions: tuple[int, ...]
    wishes: tuple[Wish, ...]
    company_slots: Mapping[str, frozenset[int]]
    company_max: Mapping[str, int | None]
    person_max: int | None
    # Where each company meets: own table number, 0 for its own room, None: shared tables.
    seats: Mapping[str, int | None]
    free_tables: tuple[int, ...]
    forbidden: frozenset[Pair] = frozenset()
    refused: tuple[Refusal, ...] = ()
    # Published meetings (pair -> slot, table): moving or dropping one costs more than a wish.
    published: Mapping[Pair, tuple[int, int]] = field(default_factory=dict)
    # The plan as it stands (pair -> slot): a start for the solver.
    current: Mapping[Pair, int] = field(default_factory=dict)
    person_busy: Mapping[int, frozenset[int]] = field(default_factory=dict)
    # The windows (start, end) of event.toml in which a company can meet, for the companies
    # that give any: the validator checks by these times, not by `company_slots`.
    company_windows: Mapping[str, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict)

    @property
    def slots(self) -> int:
        return len(self.slot_times)

    @property
    def people(self) -> tuple[int, ...]:
        """Everyone with a wish, in the order of the wishes (first come first)."""
        return tuple(dict.fromkeys(w.person for w in self.wishes))
