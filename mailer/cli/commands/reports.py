"""`invite status` and `export`: the campaign at a glance, and its tables as files."""

from __future__ import annotations

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
    people: Annotated[bool, typer.Option(
        "--people", help="List who is where: name, organisation, role, answer, admission, "
                         "last mail.")] = False,
    attendance: Annotated[list[str] | None, typer.Option(
        help="With --people: only this answer (yes, no, maybe, none); repeat it.")] = None,
    admission: Annotated[list[str] | None, typer.Option(
        help="With --people: only this admission (admitted, waitlisted, declined, "
             "withdrawn, none); repeat it.")] = None,
    role: Annotated[list[str] | None, typer.Option(
        help="With --people: only this role (none: without a role); repeat it.")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Show mails per mailing and state, the answers so far and quota use.

    With --people, one line a person instead (times in the event's time zone).

    Example: invite status --people --attendance yes --role company
    """
    from mailer.reports.status import collect_status, render_status
    ws = open_ws(workspace)
    if people or attendance or admission or role:
        from mailer.reports.people import choose_people, people_json, render_people
        chosen = choose_people(ws.store, ws.event, attendance or [], admission or [],
                               role or [])
        if as_json:
            out.print_json(json.dumps(people_json(chosen, ws.event.zone), ensure_ascii=False))
        else:
            render_people(chosen, ws.event, out)
        return
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
    excel: Annotated[bool | None, typer.Option(
        "--excel/--no-excel",
        help="CSV for Excel in the event's language: ';', local dates, words instead of ids "
             "(default: the setting excel = true of event.toml's export table).")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Export answers, recipients, the outbox or brokerage wishes; XLSX holds them all.

    Example: invite export --format xlsx -o limoges.xlsx
    """
    from mailer.reports.excel_csv import export_writer
    ws = open_ws(workspace)
    write = export_writer(ws.store, ws.event, what, fmt, excel)
    if output is None:
        if fmt == "xlsx":
            raise InviteError("XLSX cannot go to the terminal", hint="Add -o FILE.xlsx.")
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    write(output)
    err.print(f"Wrote {output}", markup=False)
