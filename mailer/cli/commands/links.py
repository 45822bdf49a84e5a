"""`invite revoke`: take back a person's links when one was forwarded or leaked, and
(`--send`) give them new ones at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, confirm, err, handled, open_ws, out
from rsvp.errors import InviteError

group = typer.Typer()


@group.command()
@handled
def revoke(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    send: Annotated[bool, typer.Option(
        "--send", help="At once send the person a fresh copy of their last mail, with the "
                       "new link (asks before revoking anything, unless --yes).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Make a person's links stop working; their next mail carries new ones. With --send
    that mail goes at once: a copy of the last one they got (the invitation, or a later
    mailing that still applies to them).

    Example: invite revoke forwarded.link@example.org --send
    """
    from mailer.cli.campaign import run_send
    from mailer.cli.preflight import check_send, send_question
    from mailer.delivery.resend import last_mailing
    from mailer.delivery.selection import Selection
    from mailer.delivery.sender import SendOptions
    ws = open_ws(workspace)
    recipient = ws.store.find_recipient(email)
    mailing = last_mailing(ws.store, recipient.id) if send else None
    if send and mailing is None:
        raise InviteError(f"nothing was ever sent to {recipient.email}, so there is nothing "
                          "to send again; the links were not revoked",
                          hint="Revoke without --send: their first mail carries new links.")
    # Checked, and asked, before revoking: a copy that cannot go out, or that the organiser
    # does not want sent after all, must not leave them without a working link.
    if mailing is not None:
        for warning in check_send(ws.settings):
            err.print(warning, markup=False)
        question = send_question(1, mailing.plural, ws.settings)
        if not yes and not confirm(f"Revoke the links of {recipient.email}, then "
                                   f"{question[0].lower()}{question[1:]}"):
            out.print(f"Nothing changed: the links of {recipient.email} still work.")
            return
    version = ws.store.revoke_link(recipient.id)
    out.print(f"Links of {recipient.email} revoked (now version {version}).")
    if mailing is None:
        return
    ok = run_send(ws, SendOptions(mailing=mailing), out, err, confirm=None,
                  selection=Selection(to=(recipient.id,)), again=True)
    if not ok:
        raise typer.Exit(1)
