"""Send one scheduled send from `invite serve`'s background sender, as `invite send`
would: the rows a crash left are queued again, those no longer due cancelled, every mail
rendered once before any is queued, then the selection is queued and sent.

The caller holds the send lock. A send whose mails could not all go out (the relay
deferred some) stays `sending` and is taken up again at a later round; one that failed
before queueing (a template error) stays scheduled, with the reason noted, and goes out
once the cause is fixed, saying it is late.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo

from mailer.content.composer import Composer
from mailer.delivery.exclusions import with_hashed_exclusions
from mailer.delivery.jobs import SendOptions, SendReport
from mailer.delivery.outbox import Outbox
from mailer.delivery.schedule import SCHEDULED, SENDING, Schedule, ScheduledSend, show_time
from mailer.delivery.sender import Sender
from rsvp.errors import InviteError
from rsvp.settings import Settings
from rsvp.store import Recipient, Store, utcnow

log = logging.getLogger("invite.sender")


def to_send(outbox: Outbox, options: SendOptions) -> Iterator[Recipient]:
    """The people a run of `options` would mail now, without writing anything: rows
    queued earlier and still due, then those the run would queue (up to --limit)."""
    pending = (item.recipient for item in outbox.pending(options.mailing, options.resend_unknown,
                                                         still_due=True))
    people = itertools.chain(pending, outbox.would_queue(options.mailing))
    return itertools.islice(people, options.limit) if options.limit else people


def send_scheduled(store: Store, settings: Settings, composer: Composer, zone: tzinfo,
                   send: ScheduledSend, run: Callable[[Sender], SendReport],
                   running_since: datetime, now: datetime | None = None) -> SendReport | None:
    """Queue (if not yet) and send one scheduled send through `run`; return what the run
    did, or None when it could not start (logged, and noted for `invite schedule`). A
    send due before `running_since` (when the background sender started) was missed."""
    now = now or utcnow()
    schedule = Schedule(store)
    # Whoever the exclusion file named is left out, also if imported since it was made.
    outbox = Outbox(store, with_hashed_exclusions(store, send.selection, settings.secret_keys))
    options = SendOptions(mailing=send.mailing, rate_per_minute=send.rate)
    named = f"scheduled send {send.id} ({send.mailing.plural}; {send.selection.describe()})"
    send = schedule.get(send.id)  # read before the lock was taken: it may be cancelled since
    if send.state not in (SCHEDULED, SENDING):
        return SendReport()
    try:
        if send.state == SCHEDULED:
            options = SendOptions(mailing=outbox.current_mailing(send.mailing),
                                  rate_per_minute=send.rate)
        outbox.cancel_unsubscribed(options.mailing)
        outbox.sync_decisions(options.mailing)
        count = composer.check_all(options.mailing, to_send(outbox, options))
    except InviteError as error:
        log.error("could not send %s: %s%s", named, error.message,
                  f" ({error.hint})" if error.hint else "")
        schedule.note(send.id, error.message)
        return None
    if send.state == SCHEDULED:
        late = send.send_at < running_since or send.missed(now)
        if late:
            log.warning("%s was due at %s, while nothing was running: sending it now",
                        named, show_time(send.send_at, zone))
        if schedule.claim(send.id, outbox, options.mailing, late) is None:
            log.info("%s was cancelled before it started: nothing sent", named)
            return SendReport()
        log.info("%s: sending %d %s", named, count, options.mailing.plural)
    report = run(Sender(settings, outbox, composer, options)) if count else SendReport()
    if next(outbox.pending(options.mailing, still_due=True), None) is None:
        schedule.finish(send.id)
    for address, reply in report.failed:
        log.warning("%s to %s failed for good: %s", named, address, reply)
    for address, reply in report.deferred:
        log.warning("%s to %s was deferred: %s", named, address, reply)
    for address, reply in report.unknown:
        log.warning("%s to %s may or may not have arrived: %s", named, address, reply)
    return report


def settle_started(store: Store) -> None:
    """Mark as sent the started sends nothing is left to send of: their last rows may
    have gone out with a later `invite send` that covered them."""
    schedule = Schedule(store)
    for send in schedule.started():
        outbox = Outbox(store, send.selection)
        if next(outbox.pending(send.mailing, still_due=True), None) is None:
            schedule.finish(send.id)
