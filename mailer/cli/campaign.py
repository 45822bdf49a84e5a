"""One `invite send`: check every message, confirm, queue, send, and report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mailer.cli.choosing import breakdown
from mailer.cli.interrupt import send_interruptibly
from mailer.cli.preflight import require_base_url, send_question
from mailer.content.compose import parse_sender
from mailer.content.composer import Composer, eml_filename
from mailer.delivery.dkim import load_signer
from mailer.delivery.exclusions import with_hashed_exclusions
from mailer.delivery.lock import SEND, Holder, sender_lock
from mailer.delivery.outbox import Outbox
from mailer.delivery.relay_notes import held_back, relay_warnings
from mailer.delivery.resend import Again, requeue_again, restore_unsent
from mailer.delivery.schedule import Schedule, ScheduledSend, show_time
from mailer.delivery.scheduled_run import settle_started, to_send
from mailer.delivery.selection import EVERYONE, Selection
from mailer.delivery.sender import Sender, SendOptions, SendReport
from mailer.delivery.smtp import TryLaterError
from mailer.delivery.tls import with_helo
from mailer.people.workspace import Workspace
from rsvp.files import private_folder, write_private
from rsvp.words import counted

# How long `invite send` waits for a round of `invite serve`'s background sender (rounds
# send a few mails each: a longer one means something is wrong there).
BACKGROUND_WAIT = 120.0
INTERRUPTED_EXIT = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)
# sysexits' EX_TEMPFAIL: mails are left because every relay reached its daily cap (or kept
# asking to slow down, or asked to try later); nothing failed, and a later run sends them.
# A run where something failed (or its fate is unknown) exits 1 instead, which says more.
HELD_BACK_EXIT = 75


def run_send(ws: Workspace, options: SendOptions, out: Console, err: Console,
             dry_run: Path | None = None,
             confirm: Callable[[str], bool] | None = None,
             selection: Selection = EVERYONE, again: bool = False) -> bool:
    """Return True when every mail went out or waits for a retry: nothing failed
    permanently and no mail's fate is unknown. Exit with INTERRUPTED_EXIT after Ctrl-C.
    A real run first sends the scheduled sends whose time passed while nothing ran.
    `again`: the people of `selection.to` get the mailing once more, even if they had it
    (re-queued under the lock, so no running sender hands the row out meanwhile)."""
    def waiting(holder: Holder) -> None:
        err.print("Waiting for invite serve's background sender to finish its round ...",
                  markup=False)

    if dry_run is None:  # a DKIM key that cannot sign stops the run before anything is queued
        load_signer(ws.settings, parse_sender(ws.event.sender, str(ws.event.path))[1])
    with sender_lock(ws.settings.workspace, SEND, wait=BACKGROUND_WAIT, on_wait=waiting):
        # Holding the lock, no sender runs: a row claimed and never handed to the relay
        # was left by a run that was killed, and simply waits for its turn again.
        Outbox(ws.store).requeue_unhanded()
        ok = True
        if dry_run is None:
            for send in Schedule(ws.store).due():
                err.print(f"Scheduled send {send.id} ({send.mailing.plural}; "
                          f"{send.selection.describe()}) was due at "
                          f"{show_time(send.send_at, ws.event.zone)} and did not go out: "
                          "nothing was running then. Sending it now.", markup=False)
                overdue = replace(options, mailing=send.mailing, rate_per_minute=send.rate,
                                  limit=None, resend_unknown=False)
                chosen = with_hashed_exclusions(ws.store, send.selection,
                                                ws.settings.secret_keys)
                ok = _run(ws, Outbox(ws.store, chosen), overdue, out, err, None, confirm,
                          send) and ok
        requeued = requeue_again(ws.store, options.mailing, selection.to) if again else Again()
        for line in requeued.not_due:
            err.print(line, markup=False)
        try:
            ok = _run(ws, Outbox(ws.store, selection), options, out, err, dry_run,
                      confirm) and ok
        finally:
            restore_unsent(ws.store, requeued.prior)
        if dry_run is None:
            settle_started(ws.store)
        return ok


def _run(ws: Workspace, outbox: Outbox, options: SendOptions, out: Console, err: Console,
         dry_run: Path | None, confirm: Callable[[str], bool] | None,
         scheduled: ScheduledSend | None = None) -> bool:
    """One mailing to the outbox's selection (a scheduled send's, if `scheduled`)."""
    options = replace(options, mailing=outbox.current_mailing(options.mailing,
                                                              options.resend_unknown))
    composer = Composer(ws.settings, ws.event, ws.store)
    unknown = outbox.unknown(options.mailing)
    if unknown and not options.resend_unknown:
        were = "was" if len(unknown) == 1 else "were"
        err.print(f"Warning: {counted(len(unknown), options.mailing.plural)} {were} being "
                  "sent when an earlier run stopped; whether they arrived is unknown: "
                  f"{', '.join(unknown[:5])}"
                  + (" ..." if len(unknown) > 5 else ""), markup=False)
        err.print("Hint: check with the relay's log, then rerun with --resend-unknown to send "
                  "them again.", markup=False)
    if dry_run is not None:
        return _dry_run(outbox, composer, options, dry_run, out)
    outbox.cancel_unsubscribed(options.mailing)
    outbox.sync_decisions(options.mailing)
    total = composer.check_all(options.mailing, to_send(outbox, options))
    schedule = Schedule(ws.store)
    if total == 0:
        out.print(f"No {options.mailing.plural} to send.")
        if scheduled is not None:
            if schedule.claim(scheduled.id, outbox, options.mailing, late=True) is None:
                return _cancelled(scheduled, err)
            schedule.finish(scheduled.id)
        return True
    require_base_url(ws.settings)  # before anything is asked or queued
    with_helo(ws.settings, composer.from_address)  # a From domain we cannot greet with
    question = send_question(total, options.mailing.plural, ws.settings,
                             breakdown(ws.store, to_send(outbox, options)))
    if confirm is not None and not confirm(question):
        out.print("Nothing sent.")
        if scheduled is not None:
            err.print(f"Hint: `invite schedule --cancel {scheduled.id}` cancels the scheduled "
                      "send; otherwise the next `invite send` offers it again.", markup=False)
        return True
    # A scheduled send is claimed as its mails are queued: one cancelled while the
    # question was asked stays cancelled, and nothing goes out.
    if scheduled is None:
        outbox.queue(options.mailing)
    elif schedule.claim(scheduled.id, outbox, options.mailing, late=True) is None:
        return _cancelled(scheduled, err)
    try:
        report = _send_with_progress(ws, outbox, composer, options, total, out, err)
    except TryLaterError as error:  # the one relay (or each) greeted with 421: `handled`
        error.hint = f"{error.hint or ''} Run `invite send` again later.".lstrip()  # exits 75
        raise
    if scheduled is not None and next(outbox.pending(options.mailing, still_due=True),
                                      None) is None:
        schedule.finish(scheduled.id)
    pending = outbox.count_pending(options.mailing)
    _summary(report, options, out, err, pending if report.interrupted else None)
    # A deferred mail waits for its retry, not for a relay's cap.
    held = held_back(report, max(0, pending - len(report.deferred)), options.mailing.plural)
    for line in relay_warnings(report, held is not None):
        err.print(line, markup=False)
    if report.interrupted:
        raise typer.Exit(INTERRUPTED_EXIT)
    if held is not None:
        err.print(held, markup=False)
    ok = not report.failed and not report.unknown
    if held is not None and ok:
        raise typer.Exit(HELD_BACK_EXIT)
    return ok


def _cancelled(scheduled: ScheduledSend, err: Console) -> bool:
    err.print(f"Scheduled send {scheduled.id} was cancelled meanwhile: nothing sent.",
              markup=False)
    return True


def _dry_run(outbox: Outbox, composer: Composer, options: SendOptions, folder: Path,
             out: Console) -> bool:
    composer.check_all(options.mailing, to_send(outbox, options))
    private_folder(folder)
    count = 0
    for count, recipient in enumerate(to_send(outbox, options), start=1):
        ready = composer.compose(options.mailing, recipient)
        write_private(folder / eml_filename(f"{count:05d}", recipient.email_ascii), ready.data)
    out.print(f"Dry run: wrote {counted(count, options.mailing.plural)} to {folder}; nothing "
              "was sent "
              "or marked as sent.")
    return True


def _send_with_progress(ws: Workspace, outbox: Outbox, composer: Composer,
                        options: SendOptions, total: int, out: Console,
                        err: Console) -> SendReport:
    if not out.is_terminal:  # a log or a pipe: no bar (and no need to load its code)
        return send_interruptibly(Sender(ws.settings, outbox, composer, options),
                                  lambda line: err.print(line, markup=False))
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=out, transient=False)
    with progress:
        task = progress.add_task(f"Sending {options.mailing.plural}", total=total)

        def advance(event: str) -> None:
            if event != "retry":
                progress.advance(task)

        sender = Sender(ws.settings, outbox, composer, options, on_outcome=advance)
        # Printed through the bar's console, above the bar, which goes on drawing.
        return send_interruptibly(sender, lambda line: progress.console.print(line,
                                                                              markup=False))


def _summary(report: SendReport, options: SendOptions, out: Console, err: Console,
             left: int | None = None) -> None:
    """The table of what the run did; `left`: how many wait for the next run (after Ctrl-C)."""
    table = Table(title=f"{options.mailing.plural.capitalize()} this run")
    table.add_column("result")
    table.add_column("mails", justify="right")
    table.add_row("sent", str(report.sent))
    table.add_row("deferred (will retry next run)", str(len(report.deferred)))
    table.add_row("failed (permanent)", str(len(report.failed)))
    if report.unknown:
        table.add_row("unknown (whole mail sent, no reply)", str(len(report.unknown)))
    table.add_row("retries", str(report.retries))
    if left is not None:
        table.add_row("left for the next run (stopped)", str(left))
    out.print(table)
    for address, reply in report.failed:
        err.print(f"Failed: {address}: {reply}", markup=False)
    for address, reply in report.deferred:
        err.print(f"Deferred: {address}: {reply}", markup=False)
    for address, reply in report.unknown:
        err.print(f"Unknown: {address}: {reply}", markup=False)
    if report.deferred:
        err.print("Hint: run `invite send` again later to retry the deferred mails.", markup=False)
    if report.unknown:
        err.print("Hint: the relay may have taken these mails. Ask its administrator or check "
                  "with the recipients; to send them again anyway, run `invite send "
                  "--resend-unknown`.", markup=False)
    if report.failed:
        err.print("Hint: failed addresses are not retried; correct them and re-import, or contact "
                  "the people another way.", markup=False)
    if left:
        err.print("Hint: run `invite send` again to send the rest.", markup=False)
