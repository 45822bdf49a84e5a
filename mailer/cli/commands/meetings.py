"""`invite meetings plan`, `show`, `wish` and `company`: the brokerage schedule (#11).

A group of its own (`invite meetings ...`), registered by mailer.cli.root; the
publishing commands join it there. The planning itself lives in mailer.planner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, open_ws, out
from mailer.people.workspace import Workspace
from rsvp.config import Company
from rsvp.errors import InviteError

group = typer.Typer(help="Plan the brokerage meetings and look at the plan.",
                    no_args_is_help=True)

Emails = Annotated[list[str] | None, typer.Option(metavar="EMAIL", help="Repeat for several.")]


def find_company(ws: Workspace, name: str) -> Company:
    """Find a listed company by id or name, in any case."""
    for company in ws.event.companies:
        if name.casefold() in (company.id, company.name.casefold()):
            return company
    ids = ", ".join(c.id for c in ws.event.companies) or "none"
    raise InviteError(f"no company {name!r} in {ws.event.path.name}",
                      hint=f"The companies' ids are: {ids}.")


@group.command()
@handled
def plan(
    time_limit: Annotated[float, typer.Option(
        min=0.5, help="Seconds the solver may take; it reports how good the plan is.")] = 20.0,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Plan from scratch: published meetings may move like any other.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what would change; store nothing.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Plan the brokerage meetings from the wishes, keeping published ones where it can.

    Example: invite meetings plan --time-limit 30 --dry-run
    """
    from mailer.planner.plan import make_plan
    from mailer.planner.report import plan_lines
    ws = open_ws(workspace)
    report = make_plan(ws.store, ws.event, time_limit=time_limit, fresh=fresh, dry_run=dry_run)
    for line in plan_lines(ws.store, ws.event, report, details=dry_run):
        out.print(line, markup=False)
    if dry_run:
        out.print("Dry run: nothing was stored.", markup=False)
    elif report.change.added or report.change.moved or report.change.cancelled:
        out.print("Next: invite meetings show, then invite meetings publish", markup=False)


@group.command()
@handled
def show(
    who: Annotated[str | None, typer.Argument(
        metavar="[EMAIL|COMPANY]", help="One person's or one company's timetable.")] = None,
    by: Annotated[str, typer.Option(help="person, company or table.")] = "company",
    workspace: Folder = Path("."),
) -> None:
    """Print the planned timetable per company, per person or per table.

    Example: invite meetings show --by table
    """
    from mailer.planner.timetable import VIEWS, Timetable
    ws = open_ws(workspace)
    if by not in VIEWS:
        raise InviteError(f"--by {by!r} is not one of {', '.join(VIEWS)}")
    table = Timetable(ws.store, ws.event)
    if not table.meetings:
        err.print("No meetings planned yet.", markup=False)
        err.print("Next: invite meetings plan", markup=False)
        return
    if who is not None and "@" in who:
        lines = list(table.by_person(ws.store.find_recipient(who).id))
    elif who is not None:
        lines = list(table.by_company(find_company(ws, who).id))
    elif by == "person":
        lines = list(table.by_person())
    elif by == "table":
        lines = list(table.by_table())
    else:
        lines = list(table.by_company())
    for line in lines:
        out.print(line, markup=False)
    if not lines:
        out.print(f"No meetings for {who}.", markup=False)


@group.command()
@handled
def wish(
    email: Annotated[str, typer.Argument(help="The participant's address.")],
    company: Annotated[str, typer.Argument(help="The company's id or name.")],
    must: Annotated[bool, typer.Option("--must", help="Force this meeting into the plan.")] = False,
    never: Annotated[bool, typer.Option("--never", help="Never plan this meeting.")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Drop this wish.")] = False,
    clear: Annotated[bool, typer.Option(
        "--clear", help="Forget what you said; the person's answer counts again.")] = False,
    priority: Annotated[int | None, typer.Option(
        min=1, max=9, help="The wish's weight (1 plain, 2 very important).")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Add, force, forbid or remove one meeting; the next plan follows it.

    Example: invite meetings wish juergen.mueller@example.org kreon --must
    """
    from rsvp.meeting_choices import set_organiser
    if sum((must, never, remove, clear)) > 1:
        raise InviteError("give at most one of --must, --never, --remove and --clear")
    ws = open_ws(workspace)
    person = ws.store.find_recipient(email)
    found = find_company(ws, company)
    say = "must" if must else "never" if never else "remove" if remove else None
    say = None if clear else say or "wish"
    set_organiser(ws.store, person.id, found.id, say, priority)
    what = {"wish": "wishes to meet", "must": "must meet", "never": "must never meet",
            "remove": "no longer wishes to meet", None: "is back to their own answer about"}
    out.print(f"{person.email} {what[say]} {found.name}", markup=False)
    out.print("Next: invite meetings plan", markup=False)


@group.command()
@handled
def company(
    name: Annotated[str, typer.Argument(metavar="COMPANY", help="The company's id or name.")],
    accept: Emails = None,
    decline: Emails = None,
    request: Emails = None,
    clear: Emails = None,
    from_file: Annotated[Path | None, typer.Option(
        "--import", exists=True, dir_okay=False,
        help="A CSV the company sent back: columns email and answer (accept, decline "
             "or request).")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Record the company's side: whom it accepts, declines or asks to meet.

    Example: invite meetings company cilas --decline kim.baer@example.com
    """
    from mailer.planner.host_answers import read_host_answers
    from rsvp.meeting_choices import set_host
    ws = open_ws(workspace)
    found = find_company(ws, name)
    answers = [(email, say) for say, emails in
               (("accept", accept), ("decline", decline), ("request", request), (None, clear))
               for email in emails or []]
    if from_file is not None:
        answers += read_host_answers(from_file)
    if not answers:
        raise InviteError("nothing to record", hint="Add --accept, --decline, --request, "
                                                    "--clear EMAIL or --import FILE.csv.")
    people = [(ws.store.find_recipient(email), say) for email, say in answers]
    for person, say in people:
        set_host(ws.store, person.id, found.id, say)
        out.print(f"{found.name}: {say or 'no say'} {person.email}", markup=False)
    out.print("Next: invite meetings plan", markup=False)
