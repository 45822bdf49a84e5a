"""The background sender of `invite serve`: people put forward on the web get their invitation.

The web app only records a nominee. A thread in the serving process looks every few
seconds whether a nominee still needs an invitation; if so it takes the workspace's
sender lock without waiting (while `invite send` holds it, the round is skipped), queues
the invitation for nominees only, and sends it with the ordinary Sender over a store
connection of its own. Failures are logged and retried later; they never stop the server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mailer.lock import sender_lock
from mailer.mailing import Composer
from mailer.outbox import Outbox, OutboxItem
from mailer.sender import Sender, SendOptions, SendReport
from rsvp.config import EventConfig
from rsvp.errors import BusyError, InviteError
from rsvp.settings import Settings
from rsvp.store import open_store

log = logging.getLogger("invite.sender")

DEFAULT_INTERVAL = 2.0
# After a round that could not send everything, leave the relay in peace this long,
# twice as long after each further such round, up to the longest pause.
RETRY_AFTER = 60.0
LONGEST_PAUSE = 30 * 60.0


@dataclass(frozen=True)
class Round:
    """What one round did: `idle` (nothing to do), `busy` (another sender holds the
    workspace), `waiting` (pausing after a failure), `sent` or `failed`."""

    outcome: str
    queued: int = 0
    report: SendReport | None = None


class _NomineeOutbox(Outbox):
    """The outbox narrowed to nominees' invitations, so a round never sends what the
    organiser queued for a later `invite send` (the rest of an `invite send --limit`)."""

    def count_pending(self, mailing: str, resend_unknown: bool = False) -> int:
        return len(self.pending_nominees())

    def pending(self, mailing: str, resend_unknown: bool = False,
                chunk: int = 500) -> Iterator[OutboxItem]:
        return iter(self.pending_nominees())


class BackgroundSender:
    """Runs rounds every `interval` seconds in a daemon thread until `stop`."""

    def __init__(self, settings: Settings, event: EventConfig,
                 interval: float = DEFAULT_INTERVAL, retry_after: float = RETRY_AFTER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.event = event
        self.interval = interval
        self.retry_after = retry_after
        self.clock = clock
        self.store = open_store(settings.database)
        self._resume_at = 0.0
        self._pause = retry_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="invite-background-sender",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Let a round in progress finish (up to `timeout`), then close the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
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
        """Send the invitations nominees are waiting for, unless another sender is busy."""
        if self.clock() < self._resume_at:
            return Round("waiting")
        outbox = _NomineeOutbox(self.store)
        # Checked before taking the lock, so that an idle round never holds it.
        if not outbox.nominees_waiting():
            return Round("idle")
        try:
            with sender_lock(self.settings.workspace):
                return self._send(outbox)
        except BusyError:
            log.debug("skipped a round: another sender holds the workspace")
            return Round("busy")

    def _send(self, outbox: _NomineeOutbox) -> Round:
        queued = 0
        try:
            outbox.cancel_unsubscribed("invitation")
            queued = outbox.queue_nominees()
            composer = Composer(self.settings, self.event, self.store.event_id)
            sender = Sender(self.settings, outbox, composer,
                            SendOptions(mailing="invitation", concurrency=2))
            report = asyncio.run(sender.run())
        except InviteError as error:
            pause = self._back_off()
            log.error("could not send nominees' invitations: %s; next try in %.0f s%s",
                      error.message, pause, f" ({error.hint})" if error.hint else "")
            return Round("failed", queued)
        for address, reply in report.failed:
            log.warning("the invitation to %s failed for good: %s", address, reply)
        for address, reply in report.deferred:
            log.warning("the invitation to %s was deferred: %s", address, reply)
        if report.deferred:
            self._back_off()
        else:
            self._pause = self.retry_after
        if report.sent:
            log.info("sent %d invitation%s to people put forward", report.sent,
                     "" if report.sent == 1 else "s")
        return Round("sent", queued, report)

    def _back_off(self) -> float:
        """Pause the rounds after a failure; each further failure doubles the pause."""
        pause = self._pause
        self._resume_at = self.clock() + pause
        self._pause = min(pause * 2, LONGEST_PAUSE)
        return pause
