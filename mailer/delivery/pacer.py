"""Space sends evenly, so a run stays under the relay's limit per minute."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """Spaces sends evenly to stay under the relay's rate limit; `hold` pauses it (a
    relay that asked us to slow down)."""

    def __init__(self, per_minute: float | None) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next = time.monotonic()
        self.held_until = 0.0  # the end of the last pause `hold` asked for

    def held_for(self) -> float:
        """Seconds until the last pause ends (0 when none is on)."""
        return max(0.0, self.held_until - time.monotonic())

    def idle(self) -> bool:
        """Whether a send may go at once, with no wait (no rate, no pause)."""
        return not self.interval and self.next <= time.monotonic()

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` from now: also a mail already in a worker's hands
        waits (`wait_held`), not only the next slot."""
        self.held_until = max(self.held_until, time.monotonic() + seconds)
        self.next = max(self.next, self.held_until)

    async def wait_held(self) -> None:
        """Wait until the pause `hold` asked for is over, without taking a slot."""
        while (left := self.held_for()) > 0:
            await asyncio.sleep(left)

    async def wait(self) -> None:
        now = time.monotonic()
        if not self.interval and self.next <= now:
            return
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
