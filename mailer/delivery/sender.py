"""Drain the outbox over a pool of SMTP connections: pacing, retries, resume, stopping.

Each row is marked `sending` (and committed) before its DATA starts, its hand-over is
committed right before the end of its message goes out, and its outcome is written
soon after, so a crash leaves at most the mails in flight in an unknown state, and
nothing is ever sent twice by a rerun. A refusal or a connection lost before the
message was complete is retried; a connection lost after the whole message went out
leaves the row `sending` (unknown) as well, because retrying it could deliver the mail
twice.

`stop` ends a run early without losing anything: no new mail is started, those in
flight finish, and every claimed row that never reached the relay is queued again;
`abort` does not wait for the mails in flight. Workers check a flag after each mail
rather than trust a single cancel to end them (see `mailer.delivery.tasks`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiosmtplib

from mailer.content.composer import Composer
from mailer.delivery.dkim import load_signer
from mailer.delivery.feeder import Feeder
from mailer.delivery.jobs import Job, SendOptions, SendReport
from mailer.delivery.ledger import Ledger
from mailer.delivery.outbox import Outbox, Outcome
from mailer.delivery.pacer import Pacer
from mailer.delivery.pool import close_pool, open_pool
from mailer.delivery.smtp import DISCONNECTS, FateUnknownError, classify, deliver, greet
from mailer.delivery.tasks import end_for_sure, take_all, unless_set
from mailer.delivery.tls import with_helo
from rsvp.settings import Settings

__all__ = ["SendOptions", "SendReport", "Sender"]

INTERRUPTED = ("the run was stopped after the whole message was sent and before the "
               "relay confirmed it")


class Sender:
    """One run over the outbox of one mailing."""

    def __init__(self, settings: Settings, outbox: Outbox, composer: Composer,
                 options: SendOptions, on_outcome: Callable[[str], None] | None = None) -> None:
        self.settings = settings = with_helo(settings, composer.from_address)
        self.outbox = outbox
        self.composer = composer
        self.options = options
        self.report = SendReport()
        self._ledger = Ledger(outbox, on_outcome or (lambda state: None))
        self._retrying: set[asyncio.Task[None]] = set()
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self._pacer = Pacer(options.rate_per_minute)
        # Read here, so that a bad key stops the run before a row is claimed.
        signer = load_signer(settings, composer.from_address)
        self._feeder = Feeder(outbox, composer, options, self._ledger, self.report, self._queue,
                              signer)
        self._workers: list[asyncio.Task[None]] = []
        self._feeding: asyncio.Task[None] | None = None  # the feeder's task
        self._connecting: asyncio.Future[list[aiosmtplib.SMTP]] | None = None
        self._stopping = False
        self._aborted = False
        self._stop_event = asyncio.Event()
        self._in_flight = 0

    def stop(self) -> int:
        """Start no further mail; let those in flight finish and queue the rest again.
        Return how many mails are in flight. Call from the run's event loop."""
        if not self._stopping:
            self._stopping = True
            self.report.interrupted = True
            self._stop_event.set()
            for task in (self._feeding, *self._retrying):
                if task is not None:
                    task.cancel()
            for job in take_all(self._queue):
                self._give_back(job)
            for _ in self._workers:  # wakes the idle ones; busy ones see the flag
                self._queue.put_nowait(None)
        return self._in_flight

    def abort(self) -> None:
        """Stop at once: a mail whose whole message went out stays `sending` (unknown),
        every other claimed row goes back to the queue. Call from the run's event loop."""
        self.stop()
        self._aborted = True
        if self._connecting is not None:
            self._connecting.cancel()
        for task in self._workers:
            task.cancel()

    async def run(self) -> SendReport:
        """Send every pending row (up to --limit); raise SendError if the relay is unusable."""
        pending = self.outbox.count_pending(self.options.mailing, self.options.resend_unknown)
        if self.options.limit is not None:
            pending = min(pending, self.options.limit)
        if pending == 0 or self._stopping:
            return self.report
        size = max(1, min(self.options.concurrency, pending))
        self._queue = self._feeder.queue = asyncio.Queue(maxsize=size * 2)
        self._connecting = asyncio.ensure_future(open_pool(self.settings, size))
        try:
            clients = await self._connecting
        except asyncio.CancelledError:
            if self._aborted:  # nothing was claimed yet
                return self.report
            raise
        finally:
            self._connecting = None
        if self._stopping:
            await close_pool(clients, quick=True)
            return self.report
        # Raw UTF-8 bodies skip quoted-printable; only for relays that accept them.
        self.composer.builder.eight_bit = all(
            client.supports_extension("8bitmime") for client in clients)
        self._workers = [asyncio.create_task(self._work(client)) for client in clients]
        flusher = asyncio.create_task(self._ledger.flush_periodically())
        try:
            await self._drive(size)
        finally:
            flusher.cancel()
            await self._end_tasks()
            self._ledger.settle([job.id for job in take_all(self._queue)])
            await close_pool(clients, polite=not self._aborted,
                             quick=self.report.interrupted)
        return self.report

    async def _drive(self, size: int) -> None:
        """Feed the workers until every row had its turn or a stop came; wait for them."""
        self._feeding = asyncio.create_task(self._feed(size))
        stopped = asyncio.create_task(self._stop_event.wait())
        waiting: set[asyncio.Future[Any]] = {self._feeding, stopped, *self._workers}
        try:
            while not all(task.done() for task in self._workers):
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = None if task.cancelled() else task.exception()
                    if error is not None:
                        raise error
        finally:
            stopped.cancel()

    async def _feed(self, size: int) -> None:
        """Hand out every row, then wait for retries, then tell the workers to end."""
        await self._feeder.produce(size)
        while True:
            await self._queue.join()
            if not self._retrying:
                break
            await asyncio.gather(*list(self._retrying))
        for _ in self._workers:
            await self._queue.put(None)

    async def _end_tasks(self) -> None:
        """Make sure no task of this run outlives it (after an error, an abort or a
        cancel from outside)."""
        self._stopping = True
        if any(not task.done() for task in self._workers):
            self._aborted = True  # a connection may be left mid-transaction
        feeder = [self._feeding] if self._feeding is not None else []
        await end_for_sure([*feeder, *self._retrying, *self._workers])

    async def _work(self, client: aiosmtplib.SMTP) -> None:
        while not self._stopping:
            job = await self._queue.get()
            self._feeder.last_take = time.monotonic()
            try:
                if job is None:
                    return
                if not await self._ready():
                    self._give_back(job)
                    return
                self._in_flight += 1
                try:
                    await self._attempt(client, job)
                finally:
                    self._in_flight -= 1
            except asyncio.CancelledError:
                self._give_back(job)
                raise
            finally:
                self._queue.task_done()

    async def _ready(self) -> bool:
        """Wait for the next slot under --rate; False if the run stops first."""
        if self._pacer.interval:
            await unless_set(self._pacer.wait(), self._stop_event)
        return not self._stopping

    def _give_back(self, job: Job | None) -> None:
        """A job interrupted in a worker's hands: unknown if its whole message went out,
        else queued again."""
        if job is None:
            return
        if job.handed_over:
            self.report.unknown.append((job.address, INTERRUPTED))
        else:
            self._ledger.give_back(job.id)

    async def _attempt(self, client: aiosmtplib.SMTP, job: Job) -> None:
        job.tries += 1
        job.handed_over = False
        if not client.is_connected:
            try:
                await greet(client)
            except Exception as error:  # noqa: BLE001 - the relay's fault, not this mail's
                client.close()
                self._fail(job, False, f"could not reconnect to the relay: {classify(error)[1]}")
                return
        try:
            offers_8bit = client.supports_extension("8bitmime")
            if job.eight_bit and not offers_8bit:
                # A reconnect reached a relay that no longer takes raw UTF-8 bodies.
                raise aiosmtplib.SMTPNotSupported("the relay stopped offering 8BITMIME; "
                                                  "the next run encodes for it")
            reply = await deliver(client, self.composer.from_address, job.address, job.data,
                                  ["BODY=8BITMIME"] if job.eight_bit else [],
                                  on_handover=lambda: self._ledger.hand_over(job))
        except FateUnknownError as error:
            client.close()
            self._ledger.record(Outcome(job.id, "sending", str(error)), "unknown")
            self.report.unknown.append((job.address, str(error)))
            return
        except Exception as error:  # noqa: BLE001 - a worker must outlive any one mail
            permanent, text = classify(error)
            if isinstance(error, (*DISCONNECTS, aiosmtplib.SMTPNotSupported)) \
                    or not isinstance(error, aiosmtplib.SMTPException) \
                    or getattr(error, "code", 0) == 421:  # 421: the relay is closing the line
                client.close()  # the connection's state is unknown: start afresh
            self._fail(job, permanent, text)
            return
        self._ledger.record(Outcome(job.id, "sent", reply), "sent")
        self.report.sent += 1

    def _fail(self, job: Job, permanent: bool, text: str) -> None:
        job.handed_over = False  # refused, or the end of data never went out
        if permanent:
            self._ledger.record(Outcome(job.id, "failed", text), "failed")
            self.report.failed.append((job.address, text))
            return
        last = job.tries >= self.options.max_attempts
        self._ledger.record(Outcome(job.id, "deferred", text), "deferred" if last else "retry")
        if last or self._stopping:
            if last:
                self.report.deferred.append((job.address, text))
            return
        self.report.retries += 1
        delay = self.options.retry_delay * 2 ** (job.tries - 1)
        task = asyncio.create_task(self._retry(job, delay))
        self._retrying.add(task)
        task.add_done_callback(self._retrying.discard)

    async def _retry(self, job: Job, delay: float) -> None:
        await asyncio.sleep(delay)
        self._ledger.claim([job])
        try:
            await self._queue.put(job)
        except asyncio.CancelledError:
            self._ledger.give_back(job.id)
            raise
