"""Feed a run's workers: compose each pending row's message, claim the rows a batch at a
time and queue them, giving way while the workers start a full round of exchanges.
With DKIM, a child process signs each batch while the next is composed (where a second
core can take it; see mailer.delivery.dkim_process)."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace

from mailer.content.composer import Composer
from mailer.delivery.dkim import Signer
from mailer.delivery.dkim_process import SigningProcess, beside
from mailer.delivery.dkim_sign import ending_crlf
from mailer.delivery.jobs import Job, SendOptions, SendReport
from mailer.delivery.ledger import Ledger
from mailer.delivery.outbox import Outbox, Outcome
from rsvp.errors import SendError

BURST_SECONDS = 0.005


def _abandon_when_started(started: asyncio.Future[SigningProcess]) -> None:
    if not started.cancelled() and started.exception() is None:
        started.result().abandon()


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
        self._starting: asyncio.Future[SigningProcess] | None = None
        self._signing: SigningProcess | None = None  # once it has started
        self._at_signing: list[Job] = []  # sent to the signing process, not yet signed

    async def produce(self, size: int) -> None:
        """Queue every pending row (up to --limit), claiming `size` rows at a time."""
        if self.signer is not None and beside():
            self._starting = asyncio.ensure_future(SigningProcess.start(self.signer))
        try:
            await self._produce(size)
        finally:
            await self._end_signing()

    async def _produce(self, size: int) -> None:
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
            data = ready.data
            if self.signer is not None and not await self._child_signs(batch):
                data = self.signer.sign(data)
            batch.append(Job(item.id, item.recipient.email_ascii, ready.message_id, data,
                             self.composer.builder.eight_bit))
            await asyncio.sleep(0)  # let replies in between messages: composing takes CPU
            if len(batch) >= size:
                await self._hand_on(batch)
                batch = []
        await self._hand_on(batch)
        await self._hand_on([])  # the last batch at the signing process

    async def _child_signs(self, batch: list[Job]) -> bool:
        """Whether the signing process takes the next message: once it is ready, the
        messages signed here meanwhile (in `batch`) are submitted first."""
        if self._signing is not None:
            return True
        if self._starting is None or not self._starting.done():
            return False
        self._signing = self._starting.result()  # a child that failed: SendError
        if batch:
            await self._submit(batch)
            batch.clear()
        return True

    async def _hand_on(self, batch: list[Job]) -> None:
        """Submit `batch`; with a signing process, send it there instead and submit the
        batch sent before, which was signed while this one was composed."""
        if self._signing is None:
            if batch:
                await self._submit(batch)
            return
        batch = [replace(job, data=ending_crlf(job.data)) for job in batch]
        self._signing.send([job.data for job in batch])
        signed, self._at_signing = self._at_signing, batch
        if signed:
            fields = await self._signing.receive(len(signed))
            await self._submit([replace(job, data=field + job.data)
                                for job, field in zip(signed, fields, strict=True)])

    async def _end_signing(self) -> None:
        """Let the signing process end with the run (after its start, about 0.1 s)."""
        starting, self._starting, self._signing = self._starting, None, None
        if starting is None:
            return
        try:
            signing = await asyncio.shield(starting)
        except SendError:
            return  # it could not start: nothing to end
        except asyncio.CancelledError:  # stopped again: it ends once its input closes
            starting.add_done_callback(_abandon_when_started)
            raise
        await signing.close()

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
