"""One `invite send`: check every message, confirm, queue, send, and report."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mailer.content.composer import Composer, eml_filename
from mailer.delivery.lock import sender_lock
from mailer.delivery.outbox import Outbox
from mailer.delivery.sender import Sender, SendOptions, SendReport
from mailer.people.workspace import Workspace
from rsvp.store import Recipient


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
    permanently and no mail's fate is unknown."""
    with sender_lock(ws.settings.workspace):
        outbox = Outbox(ws.store)
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
        question = f"Send {total} {options.mailing.plural} via {ws.settings.relay}?"
        if confirm is not None and not confirm(question):
            out.print("Nothing sent.")
            return True
        outbox.queue(options.mailing)
        report = _send_with_progress(ws, outbox, composer, options, total, out)
        _summary(report, options, out, err)
        return not report.failed and not report.unknown


def _dry_run(outbox: Outbox, composer: Composer, options: SendOptions, folder: Path,
             out: Console) -> bool:
    composer.check_all(options.mailing, _to_send(outbox, options))
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, recipient in enumerate(_to_send(outbox, options), start=1):
        ready = composer.compose(options.mailing, recipient)
        (folder / eml_filename(f"{count:05d}", recipient.email_ascii)).write_bytes(ready.data)
    out.print(f"Dry run: wrote {count} {options.mailing.plural} to {folder}; nothing was sent "
              "or marked as sent.")
    return True


def _send_with_progress(ws: Workspace, outbox: Outbox, composer: Composer,
                        options: SendOptions, total: int, out: Console) -> SendReport:
    if not out.is_terminal:  # a log or a pipe: no bar (and no need to load its code)
        return asyncio.run(Sender(ws.settings, outbox, composer, options).run())
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
        return asyncio.run(sender.run())


def _summary(report: SendReport, options: SendOptions, out: Console, err: Console) -> None:
    table = Table(title=f"{options.mailing.plural.capitalize()} this run")
    table.add_column("result")
    table.add_column("mails", justify="right")
    table.add_row("sent", str(report.sent))
    table.add_row("deferred (will retry next run)", str(len(report.deferred)))
    table.add_row("failed (permanent)", str(len(report.failed)))
    if report.unknown:
        table.add_row("unknown (connection lost at the end)", str(len(report.unknown)))
    table.add_row("retries", str(report.retries))
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
