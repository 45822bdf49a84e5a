"""Drain the outbox over a pool of SMTP connections: pacing, retries, resume.

Each row is marked `sending` (and committed) before its DATA starts, and its
outcome is written right after, so a crash leaves at most the mails in flight
in an unknown state, and nothing is ever sent twice by a rerun. A refusal or a
connection lost before the message was complete is retried; a connection lost
after the whole message went out leaves the row `sending` (unknown) as well,
because retrying it could deliver the mail twice.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiosmtplib

from mailer.content.composer import Composer
from mailer.content.mailings import INVITATION, Mailing
from mailer.delivery.outbox import Outbox, Outcome
from mailer.delivery.pacer import Pacer
from mailer.delivery.smtp import DISCONNECTS, FateUnknownError, classify, connect, deliver, greet
from rsvp.errors import SendError
from rsvp.settings import Settings

FLUSH_SECONDS = 0.25
BURST_SECONDS = 0.005


@dataclass(frozen=True)
class SendOptions:
    """How one run sends: which mailing (a value, or its outbox key), how fast, how often."""
    mailing: Mailing = INVITATION
    concurrency: int = 8
    rate_per_minute: float | None = None
    retry_delay: float = 2.0
    max_attempts: int = 3
    limit: int | None = None
    resend_unknown: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "mailing", Mailing.of(self.mailing))


@dataclass
class SendReport:
    sent: int = 0
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    retries: int = 0


@dataclass
class _Job:
    id: int
    address: str
    message_id: str
    data: bytes
    eight_bit: bool
    tries: int = 0
    handed_over: bool = False  # the whole message went out on the current try

    def mark_handed_over(self) -> None:
        self.handed_over = True


class Sender:
    """One run over the outbox of one mailing."""

    def __init__(self, settings: Settings, outbox: Outbox, composer: Composer,
                 options: SendOptions, on_outcome: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.outbox = outbox
        self.composer = composer
        self.options = options
        self.on_outcome = on_outcome or (lambda state: None)
        self.report = SendReport()
        self._outcomes: list[Outcome] = []
        self._retrying: set[asyncio.Task[None]] = set()
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._pacer = Pacer(options.rate_per_minute)
        self._last_take = 0.0
        self._interrupted: list[int] = []

    async def run(self) -> SendReport:
        """Send every pending row (up to --limit); raise SendError if the relay is unusable."""
        pending = self.outbox.count_pending(self.options.mailing, self.options.resend_unknown)
        if self.options.limit is not None:
            pending = min(pending, self.options.limit)
        if pending == 0:
            return self.report
        size = max(1, min(self.options.concurrency, pending))
        self._queue = asyncio.Queue(maxsize=size * 2)
        clients = await self._open(size)
        # Raw UTF-8 bodies skip quoted-printable; only for relays that accept them.
        self.composer.builder.eight_bit = all(
            client.supports_extension("8bitmime") for client in clients)
        workers = [asyncio.create_task(self._work(client)) for client in clients]
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            await self._produce(size)
            while True:
                await self._queue.join()
                if not self._retrying:
                    break
                await asyncio.gather(*list(self._retrying))
            for _ in workers:
                await self._queue.put(None)
            await asyncio.gather(*workers)
        finally:
            flusher.cancel()
            stopping = [*workers, *self._retrying]
            for task in stopping:
                task.cancel()
            # Let each worker note a job it held but never handed over (on Ctrl-C).
            await asyncio.gather(*stopping, return_exceptions=True)
            self._release_unsent()
            self._flush()
            for client in clients:
                await self._close(client)
        return self.report

    async def _open(self, size: int) -> list[aiosmtplib.SMTP]:
        results = await asyncio.gather(*(connect(self.settings) for _ in range(size)),
                                       return_exceptions=True)
        clients = [r for r in results if isinstance(r, aiosmtplib.SMTP)]
        if not clients:
            error = next(r for r in results if isinstance(r, BaseException))
            if isinstance(error, SendError):
                raise error
            raise SendError(f"cannot reach the mail relay {self.settings.relay}: {error}")
        return clients

    async def _close(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            try:
                await client.quit()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()

    async def _produce(self, size: int) -> None:
        batch: list[_Job] = []
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
                self._record(Outcome(item.id, "failed", f"could not build the message: {error}"),
                             "failed")
                self.report.failed.append((item.recipient.email_ascii, str(error)))
                continue
            batch.append(_Job(item.id, item.recipient.email_ascii, ready.message_id, ready.data,
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
        while (self._queue.qsize() >= size
               and time.monotonic() - self._last_take < BURST_SECONDS):
            await asyncio.sleep(BURST_SECONDS)

    async def _submit(self, batch: list[_Job]) -> None:
        self._flush()
        self.outbox.claim([(job.id, job.message_id) for job in batch])
        for index, job in enumerate(batch):
            try:
                await self._queue.put(job)
            except asyncio.CancelledError:  # Ctrl-C while the queue was full
                self._interrupted.extend(waiting.id for waiting in batch[index:])
                raise

    async def _work(self, client: aiosmtplib.SMTP) -> None:
        while True:
            job = await self._queue.get()
            self._last_take = time.monotonic()
            try:
                if job is None:
                    return
                await self._pacer.wait()
                await self._attempt(client, job)
            except asyncio.CancelledError:
                if job is not None and not job.handed_over:
                    self._interrupted.append(job.id)
                raise
            finally:
                self._queue.task_done()

    async def _attempt(self, client: aiosmtplib.SMTP, job: _Job) -> None:
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
                                  on_handover=job.mark_handed_over)
        except FateUnknownError as error:
            client.close()
            self._record(Outcome(job.id, "sending", str(error)), "unknown")
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
        self._record(Outcome(job.id, "sent", reply), "sent")
        self.report.sent += 1

    def _fail(self, job: _Job, permanent: bool, text: str) -> None:
        if permanent:
            self._record(Outcome(job.id, "failed", text), "failed")
            self.report.failed.append((job.address, text))
            return
        self._record(Outcome(job.id, "deferred", text), "deferred" if job.tries >= self.options.max_attempts else "retry")
        if job.tries >= self.options.max_attempts:
            self.report.deferred.append((job.address, text))
            return
        self.report.retries += 1
        delay = self.options.retry_delay * 2 ** (job.tries - 1)
        task = asyncio.create_task(self._retry(job, delay))
        self._retrying.add(task)
        task.add_done_callback(self._retrying.discard)

    async def _retry(self, job: _Job, delay: float) -> None:
        await asyncio.sleep(delay)
        self._flush()
        self.outbox.claim([(job.id, job.message_id)])
        try:
            await self._queue.put(job)
        except asyncio.CancelledError:
            self._interrupted.append(job.id)
            raise

    def _record(self, outcome: Outcome, event: str) -> None:
        self._outcomes.append(outcome)
        self.on_outcome(event)

    def _flush(self) -> None:
        if self._outcomes:
            outcomes, self._outcomes = self._outcomes, []
            self.outbox.finish(outcomes)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self._flush()

    def _release_unsent(self) -> None:
        """Put claimed jobs that never reached the relay back in the queue (on interrupt)."""
        unsent, self._interrupted = self._interrupted, []
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if job is not None:
                unsent.append(job.id)
        if unsent:
            self._flush()
            self.outbox.release(unsent)
