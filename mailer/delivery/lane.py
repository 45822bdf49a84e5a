"""One relay's share of a run: its pace, its daily cap, and how it slows down when the
relay asks it to.

The workers of every relay take jobs from one queue; a worker first asks its lane for a
turn (`admit`), so a relay that is paced, paused or full for the day never holds a job
that another relay could send. The daily cap counts a mail when its end of data is about
to go out (`count`, committed before it is written); a turn that ends without that gives
its reservation back (`release`), so mails in flight never push a relay over its cap.

Throttling replies (421, 451 4.7.x, 452 about the relay rather than one mailbox) are the
relay saying "not so fast", not a verdict on the mail: the lane pauses (longer after each
throttle in a row), halves its rate, and speeds up again by a tenth with each mail the
relay takes afterwards. One "slow down" usually answers every mail in flight at once: a
throttle of a mail that started before the current pause began is part of the same
episode and no further step. After MAX_THROTTLES episodes in a row without a mail taken
the lane gives up for this run. A provider's quota reply ("daily sending limit
exceeded") ends the lane's part of the day, as its own per_day would.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import date

from mailer.delivery.pacer import Pacer
from mailer.delivery.relay_days import RelayDays
from rsvp.relays import Relay

LONGEST_PAUSE = 15 * 60.0
MAX_THROTTLES = 8  # "slow down" episodes in a row before the lane gives up for this run
SLOWEST_INTERVAL = 60.0  # a throttled relay still gets one mail a minute
RECOVERY = 1.1  # the rate grows by this factor with each mail taken while slowed
RECENT = 10  # successes remembered to judge the pace of a relay without a rate


_STATUS = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# Provider replies that mean "this account's sending quota is used up" (Exchange Online's
# SubmissionQuotaExceededException, Gmail's "Daily user sending limit exceeded"). Not
# "quota exceeded" alone: "552 5.2.2 Mailbox quota exceeded" is about one mailbox.
_QUOTA_WORDS = ("quotaexceeded", "sending limit exceeded", "sending quota",
                "daily limit exceeded")


def enhanced_status(error: BaseException) -> str | None:
    """The RFC 3463 status at the start of a reply ("4.7.1"), None without one."""
    found = _STATUS.match(str(getattr(error, "message", "")))
    return ".".join(found.groups()) if found else None


def is_throttling(error: BaseException) -> bool:
    """Whether the relay's reply asks to slow down (421 service busy/closing, 451 with a
    4.7.x status such as "too many messages", 452 with a status about the relay: 4.3.x
    insufficient storage, 4.5.3 too many recipients, 4.7.x, or none) rather than saying
    anything about this mail. "452 4.2.2 Mailbox full" or 4.1.x is about one mailbox."""
    code = getattr(error, "code", 0)
    status = enhanced_status(error)
    if code == 421:
        return True
    if code == 451:
        return status is not None and status.startswith("4.7.")
    if code == 452:
        return status is None or status == "4.5.3" or status.startswith(("4.3.", "4.7."))
    return False


def is_quota(error: BaseException) -> bool:
    """Whether the reply says the account's sending quota (for the day) is used up: status
    5.4.5 (Gmail), or words such as "QuotaExceeded" (Exchange, with 5.2.0) or "sending
    limit exceeded"; never a status about one address or a full mailbox (X.1.x, X.2.1-3)."""
    code = getattr(error, "code", 0)
    if not 400 <= code <= 599:
        return False
    status = enhanced_status(error) or ""
    if status == "5.4.5":
        return True
    if status[1:].startswith((".1.", ".2.1", ".2.2", ".2.3")):
        return False
    text = str(getattr(error, "message", "")).lower()
    return any(words in text for words in _QUOTA_WORDS)


class Lane:
    """The pace, cap and back-off of one relay during one run."""

    def __init__(self, relay: Relay, days: RelayDays, today: Callable[[], date],
                 throttle_pause: float) -> None:
        self.relay = relay
        self.days = days
        self.today = today
        self.throttle_pause = throttle_pause
        self.pacer = Pacer(relay.per_minute)
        self.base_interval = self.pacer.interval
        self.day = today()
        self.used = days.sent(self.name, self.day) if relay.per_day else 0
        self.reserved = 0
        self.streak = 0  # throttle episodes in a row
        self.paused_at = float("-inf")  # when the current throttle episode began
        self.capped = False  # reached per_day (or the provider's quota) during this run
        # The day the provider said the quota is used up (kept in relay_days, so that a
        # later run or round of the same day does not spend a refused submission on it).
        self.quota_day: date | None = self.day if days.quota_spent(self.name, self.day) \
            else None
        self.gave_up = False  # kept throttling
        self._changed = asyncio.Event()
        self._taken: deque[float] = deque(maxlen=RECENT)

    @property
    def name(self) -> str:
        return self.relay.name

    @property
    def free(self) -> bool:
        """No cap and no wait: a turn needs no bookkeeping (the common single relay)."""
        return (self.relay.per_day is None and self.pacer.idle() and not self.gave_up
                and self.quota_day is None)

    def full(self) -> bool:
        """Whether the cap for today is reached by the mails counted and in flight, or
        the provider said today's quota is used up."""
        self._roll_day()
        if self.quota_day == self.day:
            return True
        cap = self.relay.per_day
        return cap is not None and self.used + self.reserved >= cap

    async def admit(self) -> bool:
        """Reserve a mail under today's cap and wait for its slot; False when the lane is
        done for this run (cap reached, or the relay kept throttling)."""
        while self.full() and not self.gave_up:
            if not self.reserved or self.quota_day == self.day:
                self.capped = True
                return False
            self._changed.clear()
            await self._changed.wait()  # a mail in flight may give its reservation back
        if self.gave_up:
            return False
        if self.relay.per_day is not None:
            self.reserved += 1
        try:
            await self.pacer.wait()
        except asyncio.CancelledError:
            self.release()
            raise
        if self.gave_up:  # while this turn waited out a pause
            self.release()
            return False
        return True

    def count(self) -> date:
        """The mail's end of data is about to go out: count it for today (returned)."""
        self._taken.append(time.monotonic())
        day = self._roll_day()
        if self.relay.per_day is None:
            return day
        self.days.add(self.name, day)
        self.used += 1
        self.reserved -= 1
        self._changed.set()
        return day

    def uncount(self, day: date) -> None:
        """The relay refused the mail counted on `day` (its reply to the end of data):
        it did not take it, so it does not use up the cap."""
        if self.relay.per_day is None:
            return
        self.days.subtract(self.name, day)
        if day == self.day and self.used > 0:
            self.used -= 1
        self._changed.set()

    def quota_used_up(self) -> None:
        """The provider said this account's sending quota is used up: no more today."""
        self.quota_day = self._roll_day()
        self.days.quota_used_up(self.name, self.quota_day)
        self.capped = True
        self._changed.set()

    def release(self) -> None:
        """A turn ended without the mail's end of data going out."""
        if self.relay.per_day is not None and self.reserved > 0:
            self.reserved -= 1
            self._changed.set()

    def taken(self) -> None:
        """The relay took a mail: the throttle streak ends and a slowed rate recovers."""
        self.streak = 0
        if self.pacer.interval > self.base_interval:
            interval = self.pacer.interval / RECOVERY
            if not self.base_interval and interval < 0.001:
                interval = 0.0
            self.pacer.interval = max(self.base_interval, interval)

    def throttle(self, started: float = float("inf")) -> float:
        """The relay asked to slow down a mail that started at `started` (monotonic):
        halve the rate and pause; return the pause. A mail that started before the
        current pause began was in flight when the relay first said it: the same
        episode, which already paused the lane (0 returned)."""
        if started <= self.paused_at:
            return 0.0
        self.paused_at = time.monotonic()
        self.streak += 1
        if self.streak >= MAX_THROTTLES:
            self.gave_up = True
            self._changed.set()
        if self.pacer.interval:
            interval = self.pacer.interval * 2
        else:  # no rate of its own: half the pace it was taking mails at
            interval = 2 * self._recent_gap()
        # Never faster than the relay's own rate, even one slower than SLOWEST_INTERVAL.
        self.pacer.interval = min(max(SLOWEST_INTERVAL, self.base_interval),
                                  max(interval, 0.001))
        pause = min(LONGEST_PAUSE, self.throttle_pause * 2 ** (self.streak - 1))
        self.pacer.hold(pause)
        return pause

    def _recent_gap(self) -> float:
        """The mean time between the last mails the relay took (the pause, if too few)."""
        if len(self._taken) < 2:
            return self.throttle_pause
        return (self._taken[-1] - self._taken[0]) / (len(self._taken) - 1)

    def _roll_day(self) -> date:
        """Start a new count when the UTC day changed during the run."""
        today = self.today()
        if today != self.day:
            self.day = today
            self.used = self.days.sent(self.name, today) if self.relay.per_day else 0
            self.capped = False
            self.quota_day = today if self.days.quota_spent(self.name, today) else None
        return today

