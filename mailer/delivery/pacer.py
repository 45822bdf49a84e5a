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

    def idle(self) -> bool:
        """Whether a send may go at once, with no wait (no rate, no pause)."""
        return not self.interval and self.next <= time.monotonic()

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` from now."""
        self.next = max(self.next, time.monotonic() + seconds)

    async def wait(self) -> None:
        now = time.monotonic()
        if not self.interval and self.next <= now:
            return
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
