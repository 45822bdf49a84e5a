"""`invite meetings publish`: tell participants and company contacts the meeting plan.

The command is registered into the `meetings` group by mailer.cli.root, so this module
imports no other command module. It queues a round and sends it in one go with the
usual question, through `invite send`'s own run (mailer.cli.campaign): the same checks,
send lock, pacing, retries and summary, and a round cut short is finished by running
it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, confirm, err, handled, open_ws, out
from rsvp.words import counted

group = typer.Typer()


@group.command()
@handled
def publish(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only list who would be told; change and send nothing.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="SMTP connections.")] = 8,
    rate: Annotated[float | None, typer.Option(min=0.1, help="At most this many mails per minute.")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Mail each participant their agenda and each company contact their timetable.

    Only what changed since the last publish goes out: new, moved and cancelled meetings,
    each person told once per change, with a calendar file that updates earlier entries.

    Example: invite meetings publish
    """
    from mailer.cli.campaign import run_send
    from mailer.cli.preflight import check_send
    from mailer.content.composer import Composer
    from mailer.delivery.publication import pending_rounds, publish_round, untold
    from mailer.delivery.sender import SendOptions
    ws = open_ws(workspace)
    todo = untold(ws.store, ws.event)
    for company in todo.without_contact:
        err.print(f"Warning: company {company!r} has no contact in {ws.event.path.name}: "
                  "nobody gets its timetable (`invite export --what schedule` lists it)",
                  markup=False)
    if dry_run:
        for address in todo.people:
            out.print(f"agenda: {address}", markup=False)
        for company in todo.companies:
            if company not in todo.without_contact:
                out.print(f"timetable: {company}", markup=False)
        out.print(f"Dry run: would tell {counted(len(todo.people), 'participants')} and "
                  f"{counted(len(todo.companies) - len(todo.without_contact), 'companies')}; "
                  "nothing was changed or sent.")
        return
    waiting = pending_rounds(ws.store)
    if not todo and not waiting:
        out.print("Nothing to publish: everyone knows the plan as it stands.")
        return
    for warning in check_send(ws.settings):
        err.print(warning, markup=False)
    if todo:
        hosts = len(todo.companies) - len(todo.without_contact)
        question = (f"Publish the meeting plan to {counted(len(todo.people), 'participants')} "
                    f"and {counted(hosts, 'company contacts')} via {ws.settings.relay} with "
                    "links to "
                    f"{ws.settings.base_url}?")
        if not yes and not confirm(question):
            out.print("Nothing published.")
            return
        composer = Composer(ws.settings, ws.event, ws.store)
        told = publish_round(ws.store, ws.event, check=composer.check_all)
        if told is not None:
            out.print(f"Round {told.agenda.round}: {counted(told.published, 'meetings')} "
                      f"published, {told.dropped} cancelled; {counted(told.agendas, 'agendas')} "
                      f"and {counted(told.timetables, 'timetables')} to send.")
    ok = True
    for mailing in pending_rounds(ws.store):
        options = SendOptions(mailing=mailing, concurrency=concurrency, rate_per_minute=rate)
        ok = run_send(ws, options, out, err) and ok
    if not ok:
        raise typer.Exit(1)
