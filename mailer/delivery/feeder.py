"""Feed a run's workers: compose each pending row's message, claim the rows a batch at a
time and queue them, giving way while the workers start a full round of exchanges."""

from __future__ import annotations

import asyncio
import itertools
import time

from mailer.content.composer import Composer
from mailer.delivery.dkim import Signer
from mailer.delivery.jobs import Job, SendOptions, SendReport
from mailer.delivery.ledger import Ledger
from mailer.delivery.outbox import Outbox, Outcome

BURST_SECONDS = 0.005


class Feeder:
    """Puts one run's pending rows, as jobs, into the workers' queue."""

    def __init__(self, outbox: Outbox, composer: Composer, options: SendOptions,
                 ledger: Ledger, report: SendReport, queue: asyncio.Queue[Job | None],
                 signer: Signer | None = None) -> None:
        self.outbox = outbox
        self.composer = composer
        self.options = options
        self.ledger = ledger
        self.report = report
        self.queue = queue
        self.signer = signer  # DKIM, over the bytes as built for this run's relay
        self.last_take = 0.0  # when a worker last took a job (the workers set it)

    async def produce(self, size: int) -> None:
        """Queue every pending row (up to --limit), claiming `size` rows at a time."""
        batch: list[Job] = []
        # Rows no longer due (the person answered, unsubscribed, or the decision changed
        # since the run began) are left out; the next run's sync cancels them.
        items = self.outbox.pending(self.options.mailing, self.options.resend_unknown,
                                    still_due=True)
        if self.options.limit is not None:
            items = itertools.islice(items, self.options.limit)
        for item in items:
            await self._yield_to_senders(size)
            try:
                ready = self.composer.compose(item.mailing, item.recipient)
            except ValueError as error:  # the check pass stops this before a real run
                self.ledger.record(Outcome(item.id, "failed",
                                           f"could not build the message: {error}"), "failed")
                self.report.failed.append((item.recipient.email_ascii, str(error)))
                continue
            data = ready.data if self.signer is None else self.signer.sign(ready.data)
            batch.append(Job(item.id, item.recipient.email_ascii, ready.message_id, data,
                             self.composer.builder.eight_bit))
            await asyncio.sleep(0)  # let replies in between messages: composing takes CPU
            if len(batch) >= size:
                await self._submit(batch)
                batch = []
        if batch:
            await self._submit(batch)

    async def _yield_to_senders(self, size: int) -> None:
        """Composing costs CPU: while a full round of mails is queued and the workers
        have just started their SMTP exchanges, let that I/O go first. With a slow
        relay the composing then happens while the workers wait for replies."""
        while (self.queue.qsize() >= size
               and time.monotonic() - self.last_take < BURST_SECONDS):
            await asyncio.sleep(BURST_SECONDS)

    async def _submit(self, batch: list[Job]) -> None:
        self.ledger.claim(batch)
        for index, job in enumerate(batch):
            try:
                await self.queue.put(job)
            except asyncio.CancelledError:  # stopped while the queue was full
                for waiting in batch[index:]:
                    self.ledger.give_back(waiting.id)
                raise
