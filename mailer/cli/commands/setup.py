"""`invite init` and `import`: make a workspace and load the people into it."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, open_ws, out
from rsvp.words import counted

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
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Import the good rows, list the bad.")] = False,
    allow_forgotten: Annotated[bool, typer.Option(
        "--allow-forgotten", help="Import addresses erased with `invite forget` too (the person asked to come "
             "back).")] = False,
    batch: Annotated[str | None, typer.Option(
        help="The batch of the people in the file (default: the file's name without "
             "extension). People keep the batch of their first import; a batch named here "
             "moves them to it.")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Load recipients from CSV or XLSX into a batch; a file with bad rows imports nothing.

    Example: invite import companies.csv --batch companies
    """
    from mailer.people.importer import import_recipients
    from rsvp.batches import check_batch_name, tag_batch
    from rsvp.forgotten import ForgottenAddresses
    name = check_batch_name(file.stem if batch is None else batch)
    ws = open_ws(workspace)
    report = import_recipients(ws.store, file, ws.event, skip_invalid=skip_invalid,
                               forgotten=ForgottenAddresses(ws.store, ws.settings.secret_keys),
                               allow_forgotten=allow_forgotten)
    # A second transaction: should it not happen, the next import gives the batch.
    tagging = tag_batch(ws.store, report.stored, name, move=batch is not None)
    out.print(f"Imported {file.name} into batch {name!r}: {report.added} added, "
              f"{report.updated} updated, {report.unchanged} unchanged.", markup=False)
    for former, count in tagging.moved.items():
        out.print(f"Moved {count} from batch {former!r} to {name!r}.", markup=False)
    for kept, count in tagging.kept.items():
        out.print(f"{count} already in batch {kept!r} {'stays' if count == 1 else 'stay'} "
                  f"there (--batch {shlex.quote(name)} would move them).", markup=False)
    for warning in report.warnings:
        err.print(f"Warning: {warning}.", markup=False)
    if report.skipped:
        rows = len({problem.line for problem in report.skipped})
        err.print(f"Skipped {counted(rows, 'bad rows')}:", markup=False)
        for problem in report.skipped:
            err.print(f"  {problem}", markup=False)
    if report.forgotten:
        err.print(f"Left out {counted(len(report.forgotten), 'addresses')} erased on "
                  f"request with `invite forget`: {', '.join(report.forgotten)}", markup=False)
        err.print("Hint: if the person asked to come back, import again with "
                  "--allow-forgotten.", markup=False)
