"""`invite revoke`: take back a person's links when one was forwarded or leaked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, handled, open_ws, out

group = typer.Typer()


@group.command()
@handled
def revoke(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    workspace: Folder = Path("."),
) -> None:
    """Make a person's links stop working; their next mail carries new ones.

    Example: invite revoke forwarded.link@example.org
    """
    ws = open_ws(workspace)
    recipient = ws.store.find_recipient(email)
    version = ws.store.revoke_link(recipient.id)
    out.print(f"Links of {recipient.email} revoked (now version {version}).")
