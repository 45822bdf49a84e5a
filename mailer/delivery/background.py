"""The background sender of `invite serve`: nominees' invitations and first-come decisions.

The web app only records answers and nominees. A thread in the serving process looks
every few seconds whether something is due; if so it takes the workspace's sender lock
without waiting (while `invite send` holds it, the round is skipped) and sends over a
store connection of its own, with the ordinary Sender:

* the invitation of each person put forward on the web (nominees only);
* each scheduled send (`invite send --at`) at its time, or at the first round when
  its time passed while nothing ran (mailer.delivery.scheduled_run);
* under `admission = "first-come"` only, the decision the answers made: a
  `confirmation` (with the calendar file) to each person admitted, a `waitlist`
  notice to each person waiting, each once per person and decision, and a
  `withdrawal` acknowledgement to each person admitted and told who said no. Whoever is
  admitted or waitlisted and has not been told is told at the next round, also
  people decided before `invite serve` started. A decline is the organiser's own
  decision: its `regret` goes out with `invite send --mailing regret`, as under
  `selection`, where every decision mail waits for `invite send`.

A round never sends another mailing's rows (the rest of an `invite send --limit`).
Failures are logged and retried later, after a growing pause; they never stop the server;
when every relay has reached its daily cap, the rounds pause until 00:00 UTC; after a
relay kept asking to slow down, they pause as after a failure (each such relay logged).
`invite send` started during a round waits for it to end (the lock says who holds it).
Rows a killed sender claimed but never handed to the relay are queued again by the next
round (or `invite send`). `stop` lets the mails in flight finish, then ends the round.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from mailer.content.composer import Composer
from mailer.content.mailings import INVITATION, WITHDRAWAL, Mailing
from mailer.delivery.jobs import utc_today
from mailer.delivery.lock import BACKGROUND, sender_lock
from mailer.delivery.nominee_outbox import NomineeOutbox
from mailer.delivery.outbox import Outbox
from mailer.delivery.relay_notes import until_midnight
from mailer.delivery.round_notes import log_failures, note, note_relays
from mailer.delivery.schedule import Schedule, ScheduledSend
from mailer.delivery.scheduled_run import send_scheduled
from mailer.delivery.sender import Sender, SendOptions, SendReport
from rsvp.admission import FIRST_COME
from rsvp.config import EventConfig
from rsvp.errors import BusyError, InviteError, SendError
from rsvp.settings import Settings
from rsvp.store import open_store, utcnow

log = logging.getLogger("invite.sender")

DEFAULT_INTERVAL = 2.0
# On stop: how long the mails in flight may take before the round ends at once.
STOP_GRACE = 10.0
# After a round that could not send everything, leave the relay in peace this long,
# twice as long after each further such round, up to the longest pause.
RETRY_AFTER = 60.0
LONGEST_PAUSE = 30 * 60.0
# The decisions the first-come rule makes by itself, told as soon as they are made.
# A withdrawal (someone admitted and told who said no) is acknowledged the same way.
FIRST_COME_MAILINGS = (Mailing("confirmation"), Mailing("waitlist"), Mailing(WITHDRAWAL))


@dataclass(frozen=True)
class Round:
    """What one round did: `idle` (nothing to do), `busy` (another sender holds the
    workspace), `waiting` (pausing after a failure), `sent` or `failed`; `sent` counts
    the mails that went out per mailing."""

    outcome: str
    queued: int = 0
    report: SendReport | None = None
    sent: dict[str, int] = field(default_factory=dict)


class BackgroundSender:
    """Runs rounds every `interval` seconds in a daemon thread until `stop`."""

    def __init__(self, settings: Settings, event: EventConfig,
                 interval: float = DEFAULT_INTERVAL, retry_after: float = RETRY_AFTER,
                 clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], date] = utc_today,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 retry_delay: float = SendOptions.retry_delay) -> None:
        self.settings = settings
        self.today, self.now = today, now  # the UTC day and time caps count in (tests: later)
        self.event = event
        self.interval = interval
        self.retry_after = retry_after
        self.retry_delay = retry_delay  # a run's first retry, and a relay's first pause
        self.clock = clock
        self.store = open_store(settings.database)
        self.started = utcnow()  # a scheduled send due before this was missed
        # Under selection the organiser sends every decision with `invite send`.
        self.decisions = FIRST_COME_MAILINGS if event.rsvp.admission == FIRST_COME else ()
        self._resume_at = 0.0
        self._pause = retry_after
        self._idle_at: int | None = None  # the data_version at the last look that found nothing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The round's sender and its loop while one runs, so that `stop` can reach it.
        self._running: tuple[asyncio.AbstractEventLoop, Sender] | None = None

    def start(self) -> None:
        if self.decisions:
            log.info("first-come: confirmations and waiting-list notices go out as the "
                     "answers decide")
        self._thread = threading.Thread(target=self._loop, name="invite-background-sender",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """End a round in progress once its mails in flight are done (at once after
        STOP_GRACE), waiting for it up to `timeout`; then close the store."""
        self._stop.set()
        self._tell_sender(Sender.stop)
        if self._thread is not None:
            self._thread.join(min(timeout, STOP_GRACE))
            if self._thread.is_alive():
                self._tell_sender(Sender.abort)
                self._thread.join(max(0.0, timeout - STOP_GRACE))
            if self._thread.is_alive():
                log.warning("the background sender did not finish within %.0f s", timeout)
                return
        self.store.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_round()
            except Exception:  # a round must never take the server down
                log.exception("a background sender round failed")
                self._back_off()
            self._stop.wait(self.interval)

    def run_round(self) -> Round:
        """Send what nominees and first-come decisions wait for, unless another sender is busy."""
        if self.clock() < self._resume_at:
            return Round("waiting")
        nominees = NomineeOutbox(self.store)
        # Scheduled sends become due with no write at all: looked at every round (a
        # look at a table of a few rows).
        schedule = Schedule(self.store)
        timed = schedule.due() + schedule.started()
        # Checked before taking the lock, so that an idle round never holds it; and not
        # even checked while nobody has written since a look that found nothing to do.
        version = nominees.data_version()
        if version == self._idle_at and not timed:
            return Round("idle")
        # Rows claimed and not handed over: in flight in `invite send` (then the lock is
        # busy), or left by a killed sender, to be queued again.
        if not (timed or nominees.nominees_waiting() or nominees.has_unhanded()
                or (self.decisions and nominees.decisions_waiting(self.decisions))):
            self._idle_at = version
            return Round("idle")
        self._idle_at = None
        try:
            with sender_lock(self.settings.workspace, BACKGROUND):
                return self._send(nominees, timed)
        except BusyError:
            log.debug("skipped a round: another sender holds the workspace")
            return Round("busy")

    def _send(self, nominees: NomineeOutbox, timed: list[ScheduledSend]) -> Round:
        decided = Outbox(self.store)
        decided.requeue_unhanded()
        nominees.cancel_unsubscribed(INVITATION)
        queued = nominees.queue_nominees()
        for mailing in self.decisions:
            # Rows whose decision changed are cancelled (or revived) before anything is
            # queued, so a person moved up gets the confirmation, not the waiting-list notice.
            decided.cancel_unsubscribed(mailing)
            decided.sync_decisions(mailing)
            queued += decided.queue(mailing)
        total = SendReport()
        sent: dict[str, int] = {}
        try:
            composer = Composer(self.settings, self.event, self.store)
        except InviteError as error:
            self._log_failures([(INVITATION, error)])
            return Round("failed", queued, total, sent)
        # The nominees' invitations first, then the decisions in a fixed order.
        runs: list[tuple[Mailing, Outbox]] = [(INVITATION, nominees)]
        runs += [(mailing, decided) for mailing in self.decisions]
        failures: list[tuple[Mailing, InviteError]] = []
        for mailing, outbox in runs:
            if self._stop.is_set():
                break
            try:
                # Render each mail once first, so that a template error stops the run
                # before any row is claimed, never half-way with mails in flight.
                composer.check_all(mailing, (item.recipient for item in outbox.pending(mailing)))
                sender = Sender(self.settings, outbox, composer,
                                SendOptions(mailing=mailing, concurrency=2, today=self.today,
                                            retry_delay=self.retry_delay))
                report = asyncio.run(self._run(sender))
            except InviteError as error:
                failures.append((mailing, error))
                if isinstance(error, SendError):
                    break  # the relay is unusable: the other mailings cannot go either
                continue  # a template or address problem of this mailing only
            note(mailing, report)
            total.add(report)
            if report.sent:
                sent[mailing.key] = report.sent
        stuck = self._send_timed(composer, timed, failures, total, sent)
        if failures or stuck:
            self._log_failures(failures)
            return Round("failed", queued, total, sent)
        if len({name for name, _ in total.capped}) >= len(self.settings.relay_list()):
            self._resume_at = self.clock() + (pause := until_midnight(self.now()))
            note_relays(total, None)
            log.info("every relay reached its daily cap; the rest goes out from 00:00 UTC "
                     "(in %.0f min)", pause / 60)
            return Round("sent", queued, total, sent)
        # A relay that asked to slow down is left in peace for a while, not tried again
        # with a fresh lane at the next round.
        if total.deferred or total.gave_up:
            note_relays(total, self._back_off())
        else:
            note_relays(total, None)
            self._pause = self.retry_after
        return Round("sent", queued, total, sent)

    def _send_timed(self, composer: Composer, timed: list[ScheduledSend],
                    failures: list[tuple[Mailing, InviteError]], total: SendReport,
                    sent: dict[str, int]) -> bool:
        """Send the scheduled sends that are due; True if one could not start."""
        stuck = False
        for send in timed:
            if self._stop.is_set() or any(isinstance(e, SendError) for _, e in failures):
                break
            try:
                report = send_scheduled(self.store, self.settings, composer, self.event.zone,
                                        send, lambda sender: asyncio.run(self._run(sender)),
                                        self.started)
            except SendError as error:  # logged with the others; the rows wait queued
                failures.append((send.mailing, error))
                break
            if report is None:
                stuck = True
                continue
            total.add(report)
            if report.sent:
                sent[send.mailing.key] = sent.get(send.mailing.key, 0) + report.sent
        return stuck

    async def _run(self, sender: Sender) -> SendReport:
        self._running = (asyncio.get_running_loop(), sender)
        try:
            if self._stop.is_set():
                sender.stop()
            return await sender.run()
        finally:
            self._running = None

    def _tell_sender(self, order: Callable[[Sender], object]) -> None:
        """Call `order` on the running round's sender, in its own loop (from another thread)."""
        running = self._running
        if running is not None:
            loop, sender = running
            try:
                loop.call_soon_threadsafe(order, sender)
            except RuntimeError:  # the round just ended and closed its loop
                pass

    def _log_failures(self, failures: list[tuple[Mailing, InviteError]]) -> None:
        """Pause the rounds, and log why each mailing could not go out."""
        log_failures(failures, self._back_off())

    def _back_off(self) -> float:
        """Pause the rounds after a failure; each further failure doubles the pause."""
        pause = self._pause
        self._resume_at = self.clock() + pause
        self._pause = min(pause * 2, LONGEST_PAUSE)
        return pause

