"""`invite schedule`: the sends recorded with `invite send --at`, and cancelling one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, handled, open_ws, out

group = typer.Typer()


@group.command()
@handled
def schedule(
    cancel: Annotated[int | None, typer.Option(
        help="Cancel the scheduled send with this number (one that has not started).",
        metavar="ID")] = None,
    everything: Annotated[bool, typer.Option(
        "--all", help="List the sent and cancelled ones too.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """List the scheduled sends (`invite send --at`) with their selection and how many
    people each would mail now, or cancel one.

    Example: invite schedule --cancel 2
    """
    from mailer.cli.choosing import plain_table
    from mailer.delivery.schedule import Schedule, show_time
    from mailer.reports.scheduled import scheduled_sends
    ws = open_ws(workspace)
    if cancel is not None:
        send = Schedule(ws.store).cancel(cancel)
        out.print(f"Cancelled scheduled send {send.id} ({send.mailing.plural}; "
                  f"{send.selection.describe()}) of {show_time(send.send_at, ws.event.zone)}.",
                  markup=False)
        return
    sends = scheduled_sends(ws.store, ws.event.zone, everything)
    if not sends:
        out.print("No scheduled sends. `invite send --at TIME` schedules one.")
        return
    header = ("id", "time", "mailing", "selection", "people", "state")
    rows = [tuple(str(send[name]) for name in header) for send in sends]
    for line in plain_table(header, rows):
        out.print(line, markup=False)
