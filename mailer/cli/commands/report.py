"""`invite report`: the campaign at a glance as one HTML file to open, print or pass on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, open_ws

group = typer.Typer()


@group.command()
@handled
def report(
    output: Annotated[Path, typer.Option(
        "--output", "-o", dir_okay=False,
        help="HTML file to write; it needs nothing else, so it opens offline and can be "
             "mailed on.")],
    language: Annotated[str | None, typer.Option(
        help="de, fr or en (default: the event's default language).")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Write a report to look at, print or share: mails per state, answers over time,
    places per role, programme parts, brokerage wishes, failed mails, who has not answered.

    Example: invite report -o limoges.html
    """
    from mailer.reports.report import write_report
    ws = open_ws(workspace)
    write_report(ws.store, ws.event, output, language)
    err.print(f"Wrote {output}", markup=False)
