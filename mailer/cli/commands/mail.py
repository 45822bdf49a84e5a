"""`invite preview` and `send`: look at one person's mail (or send yourself samples), then
send a mailing (to those chosen, now or at a set time)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import (
    BatchOption,
    ExcludeFileOption,
    ExcludeOption,
    Folder,
    ToOption,
    WhereOption,
    confirm,
    err,
    handled,
    open_ws,
    out,
)
from mailer.content.mailings import check_mailing

group = typer.Typer()
# How a real send paces itself: nothing to pace in a test send.
PACING = ("concurrency", "rate", "retry_delay", "max_attempts")


@group.command()
@handled
def preview(
    email: Annotated[str | None, typer.Argument(
        help="The recipient's address (or choose with --batch, --where, --to).")] = None,
    mailing: Annotated[str, typer.Option(
        help="invitation, reminder, confirmation, regret, waitlist, update or "
             "withdrawal.")] = "invitation",
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Write an .eml file here (its links record nothing).")] = None,
    open_: Annotated[bool, typer.Option(
        "--open", help="Write the HTML (into --out DIR, else a private temporary folder) and "
                       "open it in the default web browser.")] = False,
    batch: BatchOption = None,
    where: WhereOption = None,
    to: ToOption = None,
    exclude: ExcludeOption = None,
    exclude_file: ExcludeFileOption = None,
    workspace: Folder = Path("."),
) -> None:
    """Show one recipient's mail: subject and text, or the whole message as .eml.

    Every link in a preview is a test link: it opens the real page under a "Test link"
    banner and records nothing (`invite send --dry-run` writes the real mails).

    Instead of an address, --batch, --where, --to and --exclude (as `invite send` takes
    them) pick the first person the mailing would go to now, or the first selected if
    it would go to none of them; `invite send --list` with the same options lists all.

    Example: invite preview juergen.mueller@example.org --mailing reminder --open
    """
    from mailer.cli.choosing import selection_from
    from mailer.cli.preflight import preview_note
    from mailer.content.composer import Composer, eml_filename
    from mailer.delivery.selection import first_selected
    from rsvp.errors import SelectionError
    from rsvp.files import private_folder, write_private
    chosen = check_mailing(mailing)
    ws = open_ws(workspace)
    choosing = any((batch, where, to, exclude, exclude_file))
    if email is not None and choosing:
        raise SelectionError("give an address or --batch/--where/--to/--exclude, not both",
                             hint="`invite preview EMAIL` shows that person's mail.")
    if email is not None:
        recipient = ws.store.find_recipient(email)
    elif not choosing:
        raise SelectionError("whose mail? Give an address, or choose with --batch, --where "
                             "or --to", hint="E.g. invite preview --batch companies")
    else:
        selection = selection_from(ws, batch, where, to, exclude, exclude_file, err)
        recipient, count = first_selected(ws.store, chosen, selection)
        err.print(f"The {chosen.kind} to {recipient.email}: the first of {count} "
                  f"{'person' if count == 1 else 'people'} ({selection.describe()}).",
                  markup=False)
    # A preview is for looking: clicking its links, even in Outlook, must record nothing.
    composer = Composer(ws.settings, ws.event, ws.store, test_links=True)
    note = preview_note(ws.settings)
    if note is not None:
        err.print(note, markup=False)
    if out_dir is not None:
        private_folder(out_dir)
        ready = composer.compose(chosen, recipient)
        path = out_dir / eml_filename(mailing, recipient.email_ascii)
        write_private(path, ready.data)
        out.print(f"Wrote {path}")
    if open_:
        from mailer.cli.sampling import open_preview
        open_preview(composer, chosen, recipient, out_dir, out)
    if out_dir is not None or open_:
        return
    mail, _ = composer.render(chosen, recipient)
    out.print(f"Subject: {mail.subject}\n", markup=False)
    out.print(mail.text, markup=False)


@group.command()
@handled
def send(
    ctx: typer.Context,
    mailing: Annotated[str, typer.Option(
        help="invitation, reminder, confirmation, regret, waitlist, update or "
             "withdrawal.")] = "invitation",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[Path | None, typer.Option(help="Write .eml files to this folder instead.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most N mails this run.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="SMTP connections per relay (a relay's connections= wins).")] = 8,
    rate: Annotated[float | None, typer.Option(min=0.1, help="At most this many mails per minute.")] = None,
    retry_delay: Annotated[float, typer.Option(min=0, help="First retry after this many seconds; doubles.")] = 2.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Tries per mail in this run.")] = 3,
    resend_unknown: Annotated[bool, typer.Option(
        "--resend-unknown", help="Resend mails whose fate a crash left unknown.")] = False,
    batch: BatchOption = None,
    where: WhereOption = None,
    to: ToOption = None,
    exclude: ExcludeOption = None,
    exclude_file: ExcludeFileOption = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="Print who would get the mailing, and send nothing.")] = False,
    at: Annotated[str | None, typer.Option(
        help='Send at this time instead: "2027-03-01 09:00" in the event\'s time zone, or with '
             'an offset; `invite serve` sends it then (see `invite schedule`).')] = None,
    again: Annotated[bool, typer.Option(
        "--again", help="Send it once more to the people named with --to, even if they "
                        "had it (e.g. a lost mail): invite send --to anna@example.org "
                        "--again")] = False,
    include_maybe: Annotated[bool, typer.Option(
        "--include-maybe", help="With --mailing reminder: remind those who answered maybe "
                                "too, in words for them: invite send --mailing reminder "
                                "--include-maybe")] = False,
    test_to: Annotated[list[str] | None, typer.Option(
        "--test-to", help="Send yourself one sample per language instead, marked as a test, "
                          "with links that record nothing: invite send --test-to "
                          "me@example.org (repeat it for several addresses).")] = None,
    as_: Annotated[list[str] | None, typer.Option(
        "--as", help="With --test-to: one sample per person named, rendered as them "
                     "(repeat it).")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Queue the mailing for everyone who should get it (or those chosen) and send it.

    --batch, --where, --to and --exclude only narrow who gets it: people who
    unsubscribed, were forgotten or whose address bounced (invite bounces) get nothing,
    and nobody gets a mailing twice unless it is sent to them on purpose with
    --to EMAIL --again.

    --test-to sends samples to you only and changes nothing in the workspace.

    Example: invite send --batch companies --where language=fr --list
    """
    from mailer.cli.campaign import run_send
    from mailer.cli.choosing import list_recipients, schedule_send, selection_from
    from mailer.cli.preflight import check_send
    from mailer.cli.resending import send_options
    from mailer.delivery.sender import SendOptions
    from rsvp.errors import InviteError, ScheduleError
    if test_to or as_:
        from mailer.cli.sampling import refuse_others, run_test_send
        if not test_to:
            raise InviteError("--as goes with --test-to",
                                hint="E.g. invite send --test-to me@example.org --as "
                                     "anna@example.org")
        given = {"--dry-run": dry_run, "--limit": limit, "--batch": batch, "--where": where,
                 "--to": to, "--exclude": exclude, "--exclude-file": exclude_file,
                 "--list": list_, "--at": at, "--again": again,
                 "--include-maybe": include_maybe, "--resend-unknown": resend_unknown}
        # These have defaults: only typing them counts (--yes is harmless: nothing is asked).
        pacing = [f"--{name.replace('_', '-')}" for name in PACING
                  if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"]
        refuse_others([name for name, value in given.items() if value] + pacing)
        run_test_send(open_ws(workspace), check_mailing(mailing), test_to, as_ or [], out, err)
        return
    options = SendOptions(mailing=check_mailing(mailing), concurrency=concurrency, rate_per_minute=rate,
                          retry_delay=retry_delay, max_attempts=max_attempts, limit=limit,
                          resend_unknown=resend_unknown)
    ws = open_ws(workspace)
    selection = selection_from(ws, batch, where, to, exclude, exclude_file, err)
    options = send_options(ws, options, selection, again, include_maybe, at, dry_run, err)
    if list_:
        list_recipients(ws, options, selection, out)
        return
    if at is not None:
        if dry_run is not None:
            raise ScheduleError("--at and --dry-run do not go together",
                                hint="Try the dry run now, then schedule without --dry-run.")
        schedule_send(ws, options, selection, at, out, None if yes else confirm)
        return
    if dry_run is None:  # a dry run sends nothing, so its links may point anywhere
        for warning in check_send(ws.settings):
            err.print(warning, markup=False)
    ok = run_send(ws, options, out, err, dry_run=dry_run, confirm=None if yes else confirm,
                  selection=selection, again=again)
    if not ok:
        raise typer.Exit(1)
