"""`invite status` and `export`: the campaign at a glance, and its tables as files."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, open_ws, out
from rsvp.errors import InviteError

group = typer.Typer()


@group.command()
@handled
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Show mails per mailing and state, the answers so far and quota use.

    Example: invite status --json
    """
    from mailer.reports.status import collect_status, render_status
    ws = open_ws(workspace)
    report = collect_status(ws.store, ws.event)
    if as_json:
        out.print_json(json.dumps(report, ensure_ascii=False))
    else:
        render_status(report, out)


@group.command()
@handled
def export(
    what: Annotated[str | None, typer.Option(
        help="responses, recipients, outbox, meetings, schedule (the meeting plan), or all "
             "(every sheet in one workbook; "
             "the default with --format xlsx, else responses).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Export answers, recipients, the outbox or brokerage wishes; XLSX holds them all.

    Example: invite export --format xlsx -o limoges.xlsx
    """
    from mailer.reports.export import WORKBOOK, export_table, write_export
    from mailer.reports.workbook import write_workbook
    ws = open_ws(workspace)
    what = what or (WORKBOOK if fmt == "xlsx" else "responses")
    if what == WORKBOOK and fmt == "xlsx":
        write = functools.partial(write_workbook, ws.store, ws.event)
    else:
        columns, rows = export_table(ws.store, ws.event, what)
        write = functools.partial(write_export, columns, rows, fmt)
    if output is None:
        if fmt == "xlsx":
            raise InviteError("XLSX cannot go to the terminal", hint="Add -o FILE.xlsx.")
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    write(output)
    err.print(f"Wrote {output}", markup=False)
