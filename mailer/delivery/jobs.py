"""The values a send run works with: its options, its report, and one mail in its hands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from mailer.content.mailings import INVITATION, Mailing


def utc_today() -> date:
    """The UTC day, which relays' daily caps count in."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class SendOptions:
    """How one run sends: which mailing (a value, or its outbox key), how fast, how often."""
    mailing: Mailing = INVITATION
    concurrency: int = 8
    rate_per_minute: float | None = None
    retry_delay: float = 2.0  # also the first pause of a relay that asks to slow down
    max_attempts: int = 3
    limit: int | None = None
    resend_unknown: bool = False
    # The day the relays' daily caps count in (injected by tests to reach "tomorrow").
    today: Callable[[], date] = utc_today

    def __post_init__(self) -> None:
        object.__setattr__(self, "mailing", Mailing.of(self.mailing))


@dataclass
class SendReport:
    """What one run did; `interrupted` when it was stopped before the outbox was drained
    (the rows it did not get to stay queued for the next run)."""
    sent: int = 0
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    retries: int = 0
    interrupted: bool = False
    throttled: int = 0  # mails a relay asked us to send later (queued again, not counted)
    # Relays that ended their part of the run early: (name, per_day) reached their
    # daily cap (per_day None: the provider said its quota is used up); kept throttling;
    # could not be reached (with why).
    capped: list[tuple[str, int | None]] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        """Add what another run did (several mailings in one round of `invite serve`)."""
        self.sent += other.sent
        self.retries += other.retries
        self.deferred += other.deferred
        self.failed += other.failed
        self.unknown += other.unknown
        self.throttled += other.throttled
        self.capped += other.capped
        self.gave_up += other.gave_up
        self.unreachable += other.unreachable


@dataclass
class Job:
    """One claimed row with its finished message, from the queue to its outcome."""
    id: int
    address: str
    message_id: str
    data: bytes
    eight_bit: bool
    tries: int = 0
    handed_over: bool = False  # the whole message went out on the current try
    throttles: int = 0  # times a relay asked to send it later (not attempts)
