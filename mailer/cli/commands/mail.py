"""`invite preview` and `send`: look at one person's mail, then send a mailing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, confirm, err, handled, open_ws, out
from mailer.content.mailings import check_mailing

group = typer.Typer()


@group.command()
@handled
def preview(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    mailing: Annotated[str, typer.Option(
        help="invitation, reminder, confirmation, regret, waitlist or update.")] = "invitation",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write an .eml file here.")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Show one recipient's mail: subject and text, or the whole message as .eml.

    Example: invite preview juergen.mueller@example.org --mailing reminder
    """
    from mailer.cli.preflight import preview_note
    from mailer.content.composer import Composer, eml_filename
    from rsvp.files import write_private
    chosen = check_mailing(mailing)
    ws = open_ws(workspace)
    recipient = ws.store.find_recipient(email)
    composer = Composer(ws.settings, ws.event, ws.store)
    note = preview_note(ws.settings)
    if note is not None:
        err.print(note, markup=False)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        ready = composer.compose(chosen, recipient)
        path = out_dir / eml_filename(mailing, recipient.email_ascii)
        write_private(path, ready.data)
        out.print(f"Wrote {path}")
        return
    mail, _ = composer.render(chosen, recipient)
    out.print(f"Subject: {mail.subject}\n", markup=False)
    out.print(mail.text, markup=False)


@group.command()
@handled
def send(
    mailing: Annotated[str, typer.Option(
        help="invitation, reminder, confirmation, regret, waitlist or update.")] = "invitation",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[Path | None, typer.Option(help="Write .eml files to this folder instead.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most N mails this run.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="SMTP connections.")] = 8,
    rate: Annotated[float | None, typer.Option(min=0.1, help="At most this many mails per minute.")] = None,
    retry_delay: Annotated[float, typer.Option(min=0, help="First retry after this many seconds; doubles.")] = 2.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Tries per mail in this run.")] = 3,
    resend_unknown: Annotated[bool, typer.Option(help="Resend mails whose fate a crash left unknown.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Queue the mailing for everyone who should get it and send it through the relay.

    Example: invite send --mailing invitation --rate 600
    """
    from mailer.cli.campaign import run_send
    from mailer.cli.preflight import check_send
    from mailer.delivery.sender import SendOptions
    options = SendOptions(mailing=check_mailing(mailing), concurrency=concurrency, rate_per_minute=rate,
                          retry_delay=retry_delay, max_attempts=max_attempts, limit=limit,
                          resend_unknown=resend_unknown)
    ws = open_ws(workspace)
    if dry_run is None:  # a dry run sends nothing, so its links may point anywhere
        for warning in check_send(ws.settings):
            err.print(warning, markup=False)
    ok = run_send(ws, options, out, err, dry_run=dry_run, confirm=None if yes else confirm)
    if not ok:
        raise typer.Exit(1)
