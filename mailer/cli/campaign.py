"""One `invite send`: check every message, confirm, queue, send, and report."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mailer.cli.interrupt import send_interruptibly
from mailer.cli.preflight import require_base_url, send_question
from mailer.content.composer import Composer, eml_filename
from mailer.delivery.lock import SEND, Holder, sender_lock
from mailer.delivery.outbox import Outbox
from mailer.delivery.sender import Sender, SendOptions, SendReport
from mailer.people.workspace import Workspace
from rsvp.files import write_private
from rsvp.store import Recipient

# How long `invite send` waits for a round of `invite serve`'s background sender (rounds
# send a few mails each: a longer one means something is wrong there).
BACKGROUND_WAIT = 120.0
INTERRUPTED_EXIT = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def _to_send(outbox: Outbox, options: SendOptions) -> Iterator[Recipient]:
    """The people this run would mail, without writing anything."""
    pending = (item.recipient for item in outbox.pending(options.mailing, options.resend_unknown,
                                                         still_due=True))
    people = itertools.chain(pending, outbox.would_queue(options.mailing))
    return itertools.islice(people, options.limit) if options.limit else people


def run_send(ws: Workspace, options: SendOptions, out: Console, err: Console,
             dry_run: Path | None = None,
             confirm: Callable[[str], bool] | None = None) -> bool:
    """Return True when every mail went out or waits for a retry: nothing failed
    permanently and no mail's fate is unknown. Exit with INTERRUPTED_EXIT after Ctrl-C."""
    def waiting(holder: Holder) -> None:
        err.print("Waiting for invite serve's background sender to finish its round ...",
                  markup=False)

    with sender_lock(ws.settings.workspace, SEND, wait=BACKGROUND_WAIT, on_wait=waiting):
        outbox = Outbox(ws.store)
        # Holding the lock, no sender runs: a row claimed and never handed to the relay
        # was left by a run that was killed, and simply waits for its turn again.
        outbox.requeue_unhanded()
        options = replace(options, mailing=outbox.current_mailing(options.mailing,
                                                                  options.resend_unknown))
        composer = Composer(ws.settings, ws.event, ws.store)
        unknown = outbox.unknown(options.mailing)
        if unknown and not options.resend_unknown:
            err.print(f"Warning: {len(unknown)} {options.mailing.plural} were being sent when an "
                      f"earlier run stopped; whether they arrived is unknown: {', '.join(unknown[:5])}"
                      + (" ..." if len(unknown) > 5 else ""), markup=False)
            err.print("Hint: check with the relay's log, then rerun with --resend-unknown to send "
                      "them again.", markup=False)
        if dry_run is not None:
            return _dry_run(outbox, composer, options, dry_run, out)
        outbox.cancel_unsubscribed(options.mailing)
        outbox.sync_decisions(options.mailing)
        total = composer.check_all(options.mailing, _to_send(outbox, options))
        if total == 0:
            out.print(f"No {options.mailing.plural} to send.")
            return True
        require_base_url(ws.settings)  # before anything is queued
        question = send_question(total, options.mailing.plural, ws.settings)
        if confirm is not None and not confirm(question):
            out.print("Nothing sent.")
            return True
        outbox.queue(options.mailing)
        report = _send_with_progress(ws, outbox, composer, options, total, out, err)
        left = outbox.count_pending(options.mailing) if report.interrupted else None
        _summary(report, options, out, err, left)
        if report.interrupted:
            raise typer.Exit(INTERRUPTED_EXIT)
        return not report.failed and not report.unknown


def _dry_run(outbox: Outbox, composer: Composer, options: SendOptions, folder: Path,
             out: Console) -> bool:
    composer.check_all(options.mailing, _to_send(outbox, options))
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, recipient in enumerate(_to_send(outbox, options), start=1):
        ready = composer.compose(options.mailing, recipient)
        write_private(folder / eml_filename(f"{count:05d}", recipient.email_ascii), ready.data)
    out.print(f"Dry run: wrote {count} {options.mailing.plural} to {folder}; nothing was sent "
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
