"""`invite bounces`: read the bounce mailbox and mark the addresses that are dead (#9).

The mailbox is a Maildir folder or an mbox file the organiser's mail program exported;
reading it changes nothing in it. The IMAP reader (`--imap`) plugs in beside them and
hands its messages to the same `take_in`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, handled, open_ws, out
from rsvp.errors import InviteError

group = typer.Typer()


@group.command()
@handled
def bounces(
    maildir: Annotated[Path | None, typer.Option(
        "--maildir", file_okay=False, help="A Maildir folder (with cur/ and new/).")] = None,
    mbox: Annotated[Path | None, typer.Option(
        "--mbox", dir_okay=False, help="An mbox file.")] = None,
    # --imap: the IMAP reader (INVITE_BOUNCE_IMAP_*) adds its option here.
    workspace: Folder = Path("."),
) -> None:
    """Read bounces and auto-replies from a mailbox; mark hard-bounced addresses (and those
    that bounced soft too often) so that no further mail goes to them.

    Each message counts once: reading the same mailbox again changes nothing.

    Example: invite bounces --mbox ~/exports/bounces.mbox
    """
    from mailer.bounces.mailboxes import maildir_messages, mbox_messages
    if (maildir is None) == (mbox is None):
        raise InviteError("say where the bounces are: --maildir DIR or --mbox FILE (one of them)",
                          hint="Example: invite bounces --mbox bounces.mbox")
    ws = open_ws(workspace)
    messages = maildir_messages(maildir) if maildir is not None \
        else mbox_messages(mbox) if mbox is not None else iter(())
    from mailer.bounces.intake import take_in
    from mailer.bounces.telling import tell_intake
    report = take_in(ws.store, ws.settings, messages, ws.event.bounces)
    tell_intake(report, ws.event.bounces.soft_limit, out)
