"""Space sends evenly, so a run stays under the relay's limit per minute."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """Spaces sends evenly to stay under the relay's rate limit."""

    def __init__(self, per_minute: float | None) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
