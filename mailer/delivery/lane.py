"""One relay's share of a run: its pace, its daily cap, and how it slows down when the
relay asks it to.

The workers of every relay take jobs from one queue; a worker first asks its lane for a
turn (`admit`), so a relay that is paced, paused or full for the day never holds a job
that another relay could send. The daily cap counts a mail when its end of data is about
to go out (`count`, committed before it is written); a turn that ends without that gives
its reservation back (`release`), so mails in flight never push a relay over its cap.

Throttling replies (421, 451 4.7.x, 452) are the relay saying "not so fast", not a verdict
on the mail: the lane pauses (longer after each throttle in a row), halves its rate, and
speeds up again by a tenth with each mail the relay takes afterwards. After
MAX_THROTTLES in a row without a mail taken it gives up for this run.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import date

from mailer.delivery.pacer import Pacer
from mailer.delivery.relay_days import RelayDays
from rsvp.relays import Relay

LONGEST_PAUSE = 15 * 60.0
MAX_THROTTLES = 8  # throttles in a row before the lane gives up for this run
SLOWEST_INTERVAL = 60.0  # a throttled relay still gets one mail a minute
RECOVERY = 1.1  # the rate grows by this factor with each mail taken while slowed
RECENT = 10  # successes remembered to judge the pace of a relay without a rate


def is_throttling(error: BaseException) -> bool:
    """Whether the relay's reply asks to slow down (421 service busy/closing, 451 with a
    4.7.x status such as "too many messages", 452 too many recipients/insufficient
    storage) rather than saying anything about this mail."""
    code = getattr(error, "code", 0)
    if code in (421, 452):
        return True
    return code == 451 and str(getattr(error, "message", "")).lstrip().startswith("4.7.")


class Lane:
    """The pace, cap and back-off of one relay during one run."""

    def __init__(self, relay: Relay, days: RelayDays, today: Callable[[], date],
                 throttle_pause: float) -> None:
        self.relay = relay
        self.name = relay.name
        self.days = days
        self.today = today
        self.throttle_pause = throttle_pause
        self.pacer = Pacer(relay.per_minute)
        self.base_interval = self.pacer.interval
        self.day = today()
        self.used = days.sent(self.name, self.day) if relay.per_day else 0
        self.reserved = 0
        self.streak = 0  # throttles in a row
        self.throttles = 0
        self.capped = False  # reached per_day during this run
        self.gave_up = False  # kept throttling
        self._changed = asyncio.Event()
        self._taken: deque[float] = deque(maxlen=RECENT)

    @property
    def free(self) -> bool:
        """No cap and no wait: a turn needs no bookkeeping (the common single relay)."""
        return self.relay.per_day is None and self.pacer.idle() and not self.gave_up

    def full(self) -> bool:
        """Whether the cap for today is reached by the mails counted and in flight."""
        self._roll_day()
        cap = self.relay.per_day
        return cap is not None and self.used + self.reserved >= cap

    async def admit(self) -> bool:
        """Reserve a mail under today's cap and wait for its slot; False when the lane is
        done for this run (cap reached, or the relay kept throttling)."""
        while self.full() and not self.gave_up:
            if not self.reserved:
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

    def count(self) -> None:
        """The mail's end of data is about to go out: count it for today."""
        self._taken.append(time.monotonic())
        if self.relay.per_day is None:
            return
        self.days.add(self.name, self._roll_day())
        self.used += 1
        self.reserved -= 1
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

    def throttle(self) -> float:
        """The relay asked to slow down: halve the rate and pause; return the pause."""
        self.streak += 1
        self.throttles += 1
        if self.streak >= MAX_THROTTLES:
            self.gave_up = True
            self._changed.set()
        if self.pacer.interval:
            interval = self.pacer.interval * 2
        else:  # no rate of its own: half the pace it was taking mails at
            interval = 2 * self._recent_gap()
        self.pacer.interval = min(SLOWEST_INTERVAL, max(interval, 0.001))
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
        return today

