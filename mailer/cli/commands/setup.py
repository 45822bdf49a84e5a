"""`invite init` and `import`: make a workspace and load the people into it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, open_ws, out

group = typer.Typer()


@group.command()
@handled
def init(folder: Annotated[Path, typer.Argument(help="Folder to create.")]) -> None:
    """Write a workspace with the example event, sample recipients and a templates/ folder.

    Example: invite init limoges-2027
    """
    from mailer.people.workspace import init_workspace
    init_workspace(folder)
    out.print(f"Wrote {folder / 'event.toml'}, {folder / 'recipients.csv'} and {folder / 'templates'}/")
    out.print(f"Next: cd {folder} && invite import recipients.csv && invite preview <email>")


@group.command("import")
@handled
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX file with an email column.")],
    skip_invalid: Annotated[bool, typer.Option(help="Import the good rows, list the bad.")] = False,
    allow_forgotten: Annotated[bool, typer.Option(
        help="Import addresses erased with `invite forget` too (the person asked to come "
             "back).")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Load recipients from CSV or XLSX; a file with bad rows imports nothing.

    Example: invite import recipients.csv
    """
    from mailer.people.importer import import_recipients
    from rsvp.forgotten import ForgottenAddresses
    ws = open_ws(workspace)
    report = import_recipients(ws.store, file, ws.event, skip_invalid=skip_invalid,
                               forgotten=ForgottenAddresses(ws.store, ws.settings.secret_keys),
                               allow_forgotten=allow_forgotten)
    out.print(f"Imported {file.name}: {report.added} added, {report.updated} updated.")
    if report.skipped:
        rows = len({problem.line for problem in report.skipped})
        err.print(f"Skipped {rows} bad {'row' if rows == 1 else 'rows'}:", markup=False)
        for problem in report.skipped:
            err.print(f"  {problem}", markup=False)
    if report.forgotten:
        count = len(report.forgotten)
        err.print(f"Left out {count} {'address' if count == 1 else 'addresses'} erased on "
                  f"request with `invite forget`: {', '.join(report.forgotten)}", markup=False)
        err.print("Hint: if the person asked to come back, import again with "
                  "--allow-forgotten.", markup=False)
