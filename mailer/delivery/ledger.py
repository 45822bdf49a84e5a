"""Write what a run learns about its rows to the outbox: claims and hand-overs at once,
outcomes in batches, and rows it never handed over back to the queue.

Outcomes are batched (a commit per mail would cost throughput) because losing a few
to a crash is safe: their rows stay `sending` with their hand-over noted, and are
reported as unknown. The hand-over itself is never batched: it is what tells a mail
that may have reached the relay from one that cannot have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from mailer.delivery.jobs import Job
from mailer.delivery.outbox import Outbox, Outcome

FLUSH_SECONDS = 0.25


class Ledger:
    """The run's writes to the outbox; `on_outcome` hears each outcome as it happens."""

    def __init__(self, outbox: Outbox, on_outcome: Callable[[str], None]) -> None:
        self.outbox = outbox
        self.on_outcome = on_outcome
        self._outcomes: list[Outcome] = []
        self._given_back: list[int] = []

    def claim(self, jobs: Sequence[Job]) -> None:
        """Mark the jobs' rows `sending` (committed before any of them is sent)."""
        self.flush()
        self.outbox.claim([(job.id, job.message_id) for job in jobs])

    def hand_over(self, job: Job) -> None:
        """Commit that the job's end of data is about to go out; called right before it is
        written, so that a row without this never reached the relay."""
        self.outbox.hand_over(job.id)
        job.handed_over = True

    def unhand(self, job: Job) -> None:
        """The relay refused the whole message with a "slow down" or quota reply and the
        mail goes back in the queue: clear its hand-over at once, so that a crash before
        its next try leaves it queued again, not unknown."""
        if job.handed_over:
            self.outbox.unhand(job.id)
        job.handed_over = False

    def record(self, outcome: Outcome, event: str) -> None:
        self._outcomes.append(outcome)
        self.on_outcome(event)

    def give_back(self, row_id: int) -> None:
        """Note a claimed row that never reached the relay; `settle` queues it again."""
        self._given_back.append(row_id)

    def flush(self) -> None:
        if self._outcomes:
            outcomes, self._outcomes = self._outcomes, []
            self.outbox.finish(outcomes)

    async def flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()

    def settle(self, queued: Sequence[int] = ()) -> None:
        """Write the outcomes still held, and return the given-back rows and `queued` (claimed
        rows no worker took) to the queue."""
        unsent = [*self._given_back, *queued]
        self._given_back = []
        self.flush()
        if unsent:
            self.outbox.release(unsent)
