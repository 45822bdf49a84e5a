"""`invite admit`, `waitlist` and `decline`: the organiser's decisions about places."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, open_ws, out
from mailer.people.workspace import Workspace
from rsvp.admission import DecisionResult, decide
from rsvp.errors import UnknownRecipientError
from rsvp.store import Recipient

group = typer.Typer()

Emails = Annotated[list[str], typer.Argument(metavar="EMAIL",
                                              help="Addresses of recipients; several are fine.")]
# The mailing that tells people about each decision.
TELLS = {"admitted": "confirmation", "waitlisted": "waitlist", "declined": "regret"}


def _people(ws: Workspace, emails: list[str]) -> list[Recipient]:
    """Find everyone first, so that one unknown address changes nobody."""
    found: dict[int, Recipient] = {}
    unknown: list[str] = []
    for email in emails:
        try:
            person = ws.store.find_recipient(email)
        except UnknownRecipientError:
            unknown.append(email)
            continue
        found.setdefault(person.id, person)
    if unknown:
        names = ", ".join(repr(email) for email in unknown)
        noun = "recipient" if len(unknown) == 1 else "recipients"
        raise UnknownRecipientError(
            f"no {noun} {names} in this workspace; nothing was changed",
            hint="Check the spelling; `invite export --what recipients` lists everyone.")
    return list(found.values())


def _places(result: DecisionResult) -> str:
    role = result.recipient.role
    if not role:
        return ""
    if result.quota is None:
        return f" ({role})"
    return f" ({role}: {result.admitted} of {result.quota} places taken)"


def _decide(emails: list[str], decision: str, workspace: Path) -> None:
    ws = open_ws(workspace)
    to_tell: dict[str, None] = {}
    for person in _people(ws, emails):
        response = ws.store.response(person.id)
        result = decide(ws.store, ws.event, person.id, decision)
        if not result.changed:
            out.print(f"{person.email}: already {decision}", markup=False)
            continue
        to_tell[TELLS[decision]] = None
        shown = _places(result) if decision == "admitted" else ""
        out.print(f"{person.email}: {decision}{shown}", markup=False)
        if decision == "admitted" and (response is None or response.attendance != "yes"):
            said = "has not answered" if response is None else f"answered {response.attendance}"
            err.print(f"Warning: {person.email} {said}; admitted all the same", markup=False)
        if result.warning:
            err.print(f"Warning: {result.warning}", markup=False)
        if person.unsubscribed_at is not None:
            err.print(f"Warning: {person.email} unsubscribed and will not be told", markup=False)
        for moved in result.promoted:
            to_tell["confirmation"] = None
            out.print(f"{moved.email}: admitted from the waiting list{_places(result)}",
                      markup=False)
    for mailing in to_tell:
        out.print(f"Next: invite send --mailing {mailing}", markup=False)


@group.command()
@handled
def admit(emails: Emails, workspace: Folder = Path(".")) -> None:
    """Give these people a place; warns when a role's quota is exceeded.

    Example: invite admit juergen.mueller@example.org zoe.moreau@example.org
    """
    _decide(emails, "admitted", workspace)


@group.command()
@handled
def waitlist(emails: Emails, workspace: Folder = Path(".")) -> None:
    """Put these people on the waiting list.

    Example: invite waitlist kim.baer@example.com
    """
    _decide(emails, "waitlisted", workspace)


@group.command()
@handled
def decline(emails: Emails, workspace: Folder = Path(".")) -> None:
    """Tell these people there is no place for them (`invite send --mailing regret`).

    Example: invite decline thomas.gross@example.net
    """
    _decide(emails, "declined", workspace)
