"""Where a mail goes that a worker could not send this time: a refusal is recorded and
retried after a growing delay (until --max-attempts), a relay's "slow down" or quota
reply puts it back in the queue at once for any relay (not an attempt), and a mail
interrupted in a worker's hands goes back to the outbox, or is reported unknown if its
whole message went out."""

from __future__ import annotations

import asyncio

from mailer.delivery.jobs import Job, SendOptions, SendReport
from mailer.delivery.lane import MAX_THROTTLES, Lane
from mailer.delivery.ledger import Ledger
from mailer.delivery.outbox import Outcome

INTERRUPTED = ("the run was stopped after the whole message was sent and before the "
               "relay confirmed it")


class Returns:
    """The run's mails on their way back to the queue or the outbox."""

    def __init__(self, ledger: Ledger, report: SendReport, options: SendOptions) -> None:
        self.ledger = ledger
        self.report = report
        self.options = options
        self.queue: asyncio.Queue[Job | None] = asyncio.Queue()  # set by the run
        self.tasks: set[asyncio.Task[None]] = set()  # jobs waiting to go back in the queue
        # The claimed jobs of those tasks not yet back in the queue: a task cancelled
        # before it ran at all never reaches its own `except`, so its done-callback
        # gives the job back.
        self._claimed: dict[asyncio.Task[None], Job] = {}
        self.stopping = False

    def give_back(self, job: Job | None) -> None:
        """A job interrupted in a worker's hands: unknown if its whole message went out,
        else queued again."""
        if job is None:
            return
        if job.handed_over:
            self.report.unknown.append((job.address, INTERRUPTED))
        else:
            self.ledger.give_back(job.id)

    def throttled(self, job: Job, lane: Lane, started: float, text: str) -> None:
        """The relay asked to slow down: its lane pauses and slows; the mail goes back to
        the queue (for any relay) without counting as an attempt, unless relays kept
        asking that for this very mail (then it is a refusal like any other)."""
        self.ledger.unhand(job)
        lane.throttle(started)
        self.report.throttled += 1
        job.throttles += 1
        if job.throttles > MAX_THROTTLES:
            self.fail(job, False, f"{text} (asked to send it later {job.throttles} times)")
            return
        job.tries -= 1
        self.pass_on(job)

    def quota(self, job: Job, lane: Lane) -> None:
        """The provider said the relay's quota for the day is used up: the lane ends its
        part of the day; the mail goes back to the queue for another relay or the next
        run, not counted as an attempt and never failed."""
        self.ledger.unhand(job)
        lane.quota_used_up()
        job.tries -= 1
        self.pass_on(job)

    def pass_on(self, job: Job) -> None:
        """Put a claimed mail back in the queue for any relay."""
        job.handed_over = False
        self._later(job, 0.0, claim=False)  # still claimed: the row stays `sending`

    def fail(self, job: Job, permanent: bool, text: str) -> None:
        job.handed_over = False  # refused, or the end of data never went out
        if permanent:
            self.ledger.record(Outcome(job.id, "failed", text), "failed")
            self.report.failed.append((job.address, text))
            return
        last = job.tries >= self.options.max_attempts
        self.ledger.record(Outcome(job.id, "deferred", text), "deferred" if last else "retry")
        if last or self.stopping:
            if last:
                self.report.deferred.append((job.address, text))
            return
        self.report.retries += 1
        self._later(job, self.options.retry_delay * 2 ** (job.tries - 1), claim=True)

    def _later(self, job: Job, delay: float, claim: bool) -> None:
        task = asyncio.create_task(self._requeue(job, delay, claim))
        self.tasks.add(task)
        if not claim:
            self._claimed[task] = job
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        job = self._claimed.pop(task, None)
        if job is not None:  # ended before its job was back in the queue
            self.ledger.give_back(job.id)

    async def _requeue(self, job: Job, delay: float, claim: bool) -> None:
        task = asyncio.current_task()
        if delay:
            await asyncio.sleep(delay)  # cancelled here: the row stays `deferred`
        if claim:
            self.ledger.claim([job])
            if task is not None:
                self._claimed[task] = job
        await self.queue.put(job)  # cancelled here: `_done` gives the row back
        if task is not None:
            self._claimed.pop(task, None)
