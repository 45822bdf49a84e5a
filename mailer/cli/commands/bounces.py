"""`invite bounces`: read the bounce mailbox and mark the addresses that are dead (#9).

The mailbox is a Maildir folder or an mbox file the organiser's mail program exported;
reading it changes nothing in it. Or it is the IMAP folder of INVITE_BOUNCE_IMAP_*
(`--imap`, mailer.bounces.imap), where what was read is marked handled (or moved).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, handled, open_ws, out
from mailer.people.workspace import Workspace
from rsvp.errors import ConfigError, InviteError

group = typer.Typer()


@group.command()
@handled
def bounces(
    maildir: Annotated[Path | None, typer.Option(
        "--maildir", file_okay=False, help="A Maildir folder (with cur/ and new/).")] = None,
    mbox: Annotated[Path | None, typer.Option(
        "--mbox", dir_okay=False, help="An mbox file.")] = None,
    clear: Annotated[bool, typer.Option(
        "--clear", help="Take the bounce mark off the people EMAIL... (their address works "
                        "again): later mailings go to them again.")] = False,
    emails: Annotated[list[str] | None, typer.Argument(
        metavar="[EMAIL]...", help="With --clear: the addresses.")] = None,
    imap: Annotated[bool, typer.Option(
        "--imap", help="The IMAP folder INVITE_BOUNCE_IMAP_* name: new messages only; "
                       "each is marked handled (or moved) once recorded.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Read bounces and auto-replies from a mailbox; mark hard-bounced addresses (and those
    that bounced soft too often) so that no further mail goes to them.

    Each message counts once: reading the same mailbox again changes nothing.

    Example: invite bounces --mbox ~/exports/bounces.mbox
    """
    from mailer.bounces.mailboxes import maildir_messages, mbox_messages
    if emails and not clear:
        raise InviteError(f"{emails[0]!r} is taken as an address, which only --clear uses",
                          hint="Read a mailbox with --mbox FILE, --maildir DIR or --imap, e.g. "
                               f"invite bounces --mbox {emails[0]}")
    if clear or emails:
        if not (clear and emails) or maildir is not None or mbox is not None or imap:
            raise InviteError("--clear takes addresses and no mailbox",
                              hint="Example: invite bounces --clear anna@partner.example")
        _clear(open_ws(workspace), emails)
        return
    if (maildir is not None) + (mbox is not None) + imap != 1:
        raise InviteError("say where the bounces are: --maildir DIR, --mbox FILE or --imap "
                          "(one of them)", hint="Example: invite bounces --mbox bounces.mbox")
    ws = open_ws(workspace)
    if imap:
        _read_imap(ws)
        return
    messages = maildir_messages(maildir) if maildir is not None \
        else mbox_messages(mbox) if mbox is not None else iter(())
    from mailer.bounces.intake import take_in
    from mailer.bounces.telling import tell_intake
    report = take_in(ws.store, ws.settings, messages, ws.event.bounces)
    tell_intake(report, ws.event.bounces.soft_limit, out)


def _clear(ws: Workspace, emails: list[str]) -> None:
    """`--clear`: everyone found first, so that one unknown address changes nobody."""
    from rsvp.bounces import clear_bounce
    people = {email: ws.store.find_recipient(email) for email in emails}  # raises if unknown
    for email, person in people.items():
        was = clear_bounce(ws.store, person.id)
        out.print(f"{email}: not marked bounced; nothing to clear" if was is None else
                  f"{email}: bounce mark cleared (was: {was or 'no reason kept'}); later "
                  "mailings go to them again", markup=False)


def _read_imap(ws: Workspace) -> None:
    """`--imap`: the new messages of the IMAP bounce folder."""
    from mailer.bounces.poll import read_bounce_folder
    from mailer.bounces.telling import tell_intake
    mailbox = ws.settings.bounce_imap
    if mailbox is None:
        raise ConfigError("--imap reads the bounce mailbox, but INVITE_BOUNCE_IMAP_HOST is "
                          "not set", hint="Set INVITE_BOUNCE_IMAP_HOST, _USER and _PASSWORD "
                          "(README: Settings), or use --maildir/--mbox.")
    read_bounce_folder(ws.store, ws.settings, mailbox, ws.event.bounces,
                       told=lambda report: tell_intake(report, ws.event.bounces.soft_limit, out))
