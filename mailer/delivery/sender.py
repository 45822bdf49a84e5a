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

With several relays (rsvp.relays) every relay gets its own connections and a lane
(mailer.delivery.lane: its pace, daily cap and back-off); all workers take from one
queue, each after its lane gave it a turn. A lane that reaches its daily cap ends its
workers; when every lane has ended, the rows not sent stay queued for the next run.
One try of one mail, and what its relay's reply means, is mailer.delivery.attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiosmtplib

from mailer.content.composer import Composer
from mailer.delivery.attempt import Attempts
from mailer.delivery.dkim import load_signer
from mailer.delivery.feeder import Feeder
from mailer.delivery.jobs import Job, SendOptions, SendReport
from mailer.delivery.lane import Lane
from mailer.delivery.ledger import Ledger
from mailer.delivery.outbox import Outbox
from mailer.delivery.pacer import Pacer
from mailer.delivery.pool import Opening, close_pool
from mailer.delivery.relay_days import RelayDays
from mailer.delivery.returns import Returns
from mailer.delivery.tasks import end_for_sure, take_all, unless_set
from mailer.delivery.tls import with_helo
from rsvp.settings import Settings

__all__ = ["SendOptions", "SendReport", "Sender"]

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
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self._returns = Returns(self._ledger, self.report, options)
        self._pacer = Pacer(options.rate_per_minute)
        # Read here, so that a bad key stops the run before a row is claimed.
        signer = load_signer(settings, composer.from_address)
        self._feeder = Feeder(outbox, composer, options, self._ledger, self.report, self._queue,
                              signer)
        self._workers: list[asyncio.Task[None]] = []
        self._feeding: asyncio.Task[None] | None = None  # the feeder's task
        self._connecting: asyncio.Future[Any] | None = None
        self._clients: list[aiosmtplib.SMTP] = []
        self._fed = False  # every row handed out: the workers are told to end
        days = RelayDays(outbox.store)
        self._lanes = [Lane(relay, days, options.today, options.retry_delay)
                       for relay in settings.relay_list()]
        self._stopping = False
        self._aborted = False
        self._stop_event = asyncio.Event()
        self._in_flight = 0
        self._attempts = Attempts(settings, composer.from_address, self._ledger, self._returns,
                                  self.report, self._stop_event)

    def stop(self) -> int:
        """Start no further mail; let those in flight finish and queue the rest again.
        Return how many mails are in flight. Call from the run's event loop."""
        if not self._stopping:
            self._stopping = self._returns.stopping = True
            self.report.interrupted = True
            self._stop_event.set()
            for task in (self._feeding, *self._returns.tasks):
                if task is not None:
                    task.cancel()
            for job in take_all(self._queue):
                self._returns.give_back(job)
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
        wanted = [(lane, max(1, min(lane.relay.connections or self.options.concurrency,
                                    pending)))
                  for lane in self._lanes if not lane.full()]
        self._note_capped()
        if not wanted:  # every relay's cap for today is used up: nothing to connect to
            return self.report
        opening = Opening(self.settings, wanted)
        self._connecting = asyncio.ensure_future(opening.first())
        try:
            lanes = await self._connecting
        except asyncio.CancelledError:
            if self._aborted:  # nothing was claimed yet
                return self.report
            raise
        finally:
            self._connecting = None
        self._clients = [client for _, pool in lanes for client in pool]
        if self._stopping:
            self.report.unreachable = opening.notes()
            await opening.close()
            await close_pool(self._clients, quick=True)
            return self.report
        # Sized for every connection asked for: a lane reached later joins the same queue.
        size = sum(count for _, count in wanted)
        self._queue = self._feeder.queue = self._returns.queue = asyncio.Queue(maxsize=size * 2)
        # Raw UTF-8 bodies skip quoted-printable; only for relays that accept them (all
        # of them: a relay still connecting may not).
        self.composer.builder.eight_bit = not opening.waiting and all(
            client.supports_extension("8bitmime") for client in self._clients)
        for lane, pool in lanes:
            self._start(lane, pool)
        flusher = asyncio.create_task(self._ledger.flush_periodically())
        try:
            await self._drive(size, opening)
        finally:
            flusher.cancel()
            self.report.unreachable = opening.notes()
            await opening.close()
            await self._end_tasks()
            self._ledger.settle([job.id for job in take_all(self._queue)])
            await close_pool(self._clients, polite=not self._aborted,
                             quick=self.report.interrupted)
            self._note_capped()
            self.report.gave_up = [lane.name for lane in self._lanes if lane.gave_up]
        return self.report

    def _start(self, lane: Lane, pool: list[aiosmtplib.SMTP]) -> list[asyncio.Task[None]]:
        """Start a worker per connection of a lane just reached (it shares the queue)."""
        workers = [asyncio.create_task(self._work(client, lane)) for client in pool]
        self._workers += workers
        return workers

    def _note_capped(self) -> None:
        """Name the relays whose daily cap (or the provider's quota) is used up. After the
        run it is what the lanes met (a run that went past 00:00 UTC still reports it)."""
        self.report.capped = [(lane.name, lane.relay.per_day if lane.quota_day is None
                               else None) for lane in self._lanes
                              if lane.capped or (lane.full() and not lane.reserved and (
                                  lane.relay.per_day is not None or lane.quota_day))]

    async def _drive(self, size: int, opening: Opening) -> None:
        """Feed the workers until every row had its turn or a stop came; wait for them.
        A lane reached meanwhile gets its workers; none is waited for once the rows are
        all handed out."""
        self._feeding = asyncio.create_task(self._feed(size))
        stopped = asyncio.create_task(self._stop_event.wait())
        joining = asyncio.ensure_future(opening.next())
        waiting: set[asyncio.Future[Any]] = {self._feeding, stopped, joining, *self._workers}
        try:
            while not (all(task.done() for task in self._workers) and
                       (joining.done() or self._fed or self._stopping)):
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = None if task.cancelled() else task.exception()
                    if error is not None:
                        raise error
                    if task is joining and (reached := joining.result()) is not None:
                        lane, pool = reached
                        self._clients += pool  # closed with the others at the end
                        if not (self._fed or self._stopping):
                            waiting |= set(self._start(lane, pool))
                        joining = asyncio.ensure_future(opening.next())
                        waiting.add(joining)
        finally:
            stopped.cancel()
            joining.cancel()
            [left] = await asyncio.gather(joining, return_exceptions=True)
            if isinstance(left, tuple) and left[1][0] not in self._clients:
                self._clients += left[1]  # reached as an error ended the run

    async def _feed(self, size: int) -> None:
        """Hand out every row, then wait for retries, then tell the workers to end."""
        await self._feeder.produce(size)
        while True:
            await self._queue.join()
            if not self._returns.tasks:
                break
            await asyncio.gather(*list(self._returns.tasks))
        self._fed = True  # no lane joins from here on
        for _ in self._workers:
            await self._queue.put(None)

    async def _end_tasks(self) -> None:
        """Make sure no task of this run outlives it (after an error, an abort or a
        cancel from outside)."""
        self._stopping = self._returns.stopping = True
        if any(not task.done() for task in self._workers):
            self._aborted = True  # a connection may be left mid-transaction
        feeder = [self._feeding] if self._feeding is not None else []
        await end_for_sure([*feeder, *self._returns.tasks, *self._workers])

    async def _work(self, client: aiosmtplib.SMTP, lane: Lane) -> None:
        while not self._stopping:
            if not lane.free and not await self._turn(lane):
                return  # the lane is done for this run (cap, or throttled too often)
            try:
                job = await self._queue.get()
            except asyncio.CancelledError:
                lane.release()
                raise
            self._feeder.last_take = time.monotonic()
            try:
                if job is None:
                    lane.release()
                    return
                if not await self._ready():
                    lane.release()
                    self._returns.give_back(job)
                    return
                self._in_flight += 1
                try:
                    await self._attempts.attempt(client, job, lane)
                finally:
                    self._in_flight -= 1
            except asyncio.CancelledError:
                self._returns.give_back(job)
                raise
            finally:
                self._queue.task_done()

    async def _turn(self, lane: Lane) -> bool:
        """Wait for the lane to give this worker a turn; False if the lane is done for
        this run or the run stops first."""
        admitted = asyncio.ensure_future(lane.admit())
        await unless_set(asyncio.shield(admitted), self._stop_event)
        if not admitted.done():
            admitted.cancel()  # admit gives back its reservation when cancelled
            await asyncio.gather(admitted, return_exceptions=True)
            return False
        if self._stopping:
            if admitted.result():
                lane.release()
            return False
        return admitted.result()

    async def _ready(self) -> bool:
        """Wait for the next slot under --rate; False if the run stops first."""
        if self._pacer.interval:
            await unless_set(self._pacer.wait(), self._stop_event)
        return not self._stopping
