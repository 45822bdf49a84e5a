"""One try of one mail on one connection: wait out its relay's pause, hand it over, and
sort what the relay said (taken, refused, "slow down", quota used up, fate unknown).

The relay's daily cap counts the mail right before its end of data goes out; a relay
that refuses the whole message did not take it, so the count is taken back. A "slow
down" can come while a mail already waits in a worker's hands, so every try first waits
out its lane's pause; the time it then starts tells the lane which throttles belong to
the episode that pause answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date

import aiosmtplib

from mailer.delivery import verp
from mailer.delivery.jobs import Job, SendReport
from mailer.delivery.lane import Lane, is_quota, is_throttling
from mailer.delivery.ledger import Ledger
from mailer.delivery.outbox import Outcome
from mailer.delivery.returns import Returns
from mailer.delivery.smtp import DISCONNECTS, FateUnknownError, classify, deliver, greet
from mailer.delivery.tasks import unless_set
from rsvp.settings import Settings


class Attempts:
    """How the run's workers try their mails."""

    def __init__(self, settings: Settings, from_address: str, ledger: Ledger,
                 returns: Returns, report: SendReport, stopped: asyncio.Event) -> None:
        self.settings = settings
        self.from_address = from_address
        self.ledger = ledger
        self.returns = returns
        self.report = report
        self.stopped = stopped

    async def attempt(self, client: aiosmtplib.SMTP, job: Job, lane: Lane) -> None:
        """Try `job` over `client` once its lane's pause is over; a run stopped meanwhile
        gives it back, a lane done for the run meanwhile passes it on to the others."""
        counted: date | None = None

        def hand_over() -> None:
            nonlocal counted
            counted = lane.count()  # first: a mail is never sent without being counted
            self.ledger.hand_over(job)

        try:
            if lane.pacer.held_for():
                await unless_set(lane.pacer.wait_held(), self.stopped)
            if self.stopped.is_set():
                self.returns.give_back(job)
                return
            if lane.gave_up or lane.quota_day is not None:
                self.returns.pass_on(job)
                return
            await self._try(client, job, lane, hand_over, lambda: counted)
        finally:
            if counted is None:
                lane.release()

    async def _try(self, client: aiosmtplib.SMTP, job: Job, lane: Lane,
                   hand_over: Callable[[], None], counted: Callable[[], date | None]) -> None:
        started = time.monotonic()
        job.tries += 1
        job.handed_over = False
        if not client.is_connected:
            try:
                await greet(client)
            except Exception as error:  # noqa: BLE001 - the relay's fault, not this mail's
                client.close()
                if is_throttling(error):
                    self.returns.throttled(job, lane, started, classify(error)[1])
                    return
                self.returns.fail(job, False, "could not reconnect to the relay: "
                                  f"{classify(error)[1]}")
                return
        try:
            offers_8bit = client.supports_extension("8bitmime")
            if job.eight_bit and not offers_8bit:
                # A reconnect reached a relay that no longer takes raw UTF-8 bodies.
                raise aiosmtplib.SMTPNotSupported("the relay stopped offering 8BITMIME; "
                                                  "the next run encodes for it")
            sender = verp.envelope_sender(self.settings, self.from_address, job.id)
            reply = await deliver(client, sender, job.address, job.data,
                                  ["BODY=8BITMIME"] if job.eight_bit else [],
                                  on_handover=hand_over)
        except FateUnknownError as error:
            client.close()
            self.ledger.record(Outcome(job.id, "sending", str(error)), "unknown")
            self.report.unknown.append((job.address, str(error)))
            return
        except Exception as error:  # noqa: BLE001 - a worker must outlive any one mail
            day = counted()
            if day is not None:  # refused after the count: the relay did not take it
                lane.uncount(day)
            self._refused(client, job, lane, started, error)
            return
        lane.taken()
        self.ledger.record(Outcome(job.id, "sent", reply), "sent")
        self.report.sent += 1

    def _refused(self, client: aiosmtplib.SMTP, job: Job, lane: Lane, started: float,
                 error: Exception) -> None:
        """Sort a refusal (or a line lost before the whole message went out)."""
        permanent, text = classify(error)
        if isinstance(error, (*DISCONNECTS, aiosmtplib.SMTPNotSupported)) \
                or not isinstance(error, aiosmtplib.SMTPException) \
                or getattr(error, "code", 0) == 421:  # 421: the relay is closing the line
            client.close()  # the connection's state is unknown: start afresh
        if is_quota(error):
            self.returns.quota(job, lane)
        elif is_throttling(error):
            self.returns.throttled(job, lane, started, text)
        else:
            self.returns.fail(job, permanent, text)
