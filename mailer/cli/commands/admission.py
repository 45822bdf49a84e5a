"""`invite admit`, `waitlist` and `decline`: the organiser's decisions about places."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, err, handled, open_ws, out
from mailer.people.workspace import Workspace
from rsvp.admission import DecisionResult, decide
from rsvp.bounces import bounce_reason
from rsvp.errors import InviteError, UnknownRecipientError
from rsvp.store import Recipient
from rsvp.words import counted

group = typer.Typer()

Emails = Annotated[list[str], typer.Argument(metavar="EMAIL",
                                              help="Addresses of recipients; several are fine.")]
RequireApplication = Annotated[bool, typer.Option(
    "--require-application", help="Refuse (and change nobody) if one of them did not answer "
                                  "yes; without it such a person is decided all the same, "
                                  "with a warning.")]
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
    return f" ({role}: {result.admitted} of {counted(result.quota, 'places')} taken)"


def _not_applied(ws: Workspace, people: list[Recipient]) -> dict[str, str]:
    """Who did not say yes, with what they said: a decision about them is no answer to
    an application, and its mail is worded so (templates' `applied`)."""
    said: dict[str, str] = {}
    for person in people:
        response = ws.store.response(person.id)
        if response is None or response.attendance != "yes":
            said[person.email] = ("has not answered" if response is None
                                  else f"answered {response.attendance}")
    return said


def _decide(emails: list[str], decision: str, workspace: Path,
            require_application: bool = False) -> None:
    ws = open_ws(workspace)
    to_tell: dict[str, None] = {}
    people = _people(ws, emails)
    not_applied = _not_applied(ws, people)
    if require_application and not_applied:
        listed = "; ".join(f"{email} {said}" for email, said in not_applied.items())
        raise InviteError(f"only people who said yes can be {decision} with "
                          f"--require-application: {listed}; nothing was changed",
                          hint="Leave those addresses out, or drop --require-application to "
                               "decide about them all the same (their mail is worded for it).")
    for person in people:
        result = decide(ws.store, ws.event, person.id, decision)
        if not result.changed:
            out.print(f"{person.email}: already {decision}", markup=False)
            continue
        to_tell[TELLS[decision]] = None
        shown = _places(result) if decision == "admitted" else ""
        out.print(f"{person.email}: {decision}{shown}", markup=False)
        if person.email in not_applied:
            err.print(f"Warning: {person.email} {not_applied[person.email]}; {decision} all the "
                      "same", markup=False)
        if result.warning:
            err.print(f"Warning: {result.warning}", markup=False)
        if person.unsubscribed_at is not None:
            err.print(f"Warning: {person.email} unsubscribed and will not be told", markup=False)
        elif bounced := bounce_reason(ws.store, person.id):
            err.print(f"Warning: {person.email}'s address bounced ({bounced}) and they will not "
                      "be told; `invite bounces --clear EMAIL` if it works again", markup=False)
        for moved in result.promoted:
            to_tell["confirmation"] = None
            out.print(f"{moved.email}: admitted from the waiting list{_places(result)}",
                      markup=False)
    for mailing in to_tell:
        out.print(f"Next: invite send --mailing {mailing}", markup=False)


@group.command()
@handled
def admit(emails: Emails, require_application: RequireApplication = False,
          workspace: Folder = Path(".")) -> None:
    """Give these people a place; warns when a role's quota is exceeded, or when someone
    did not say yes (their confirmation then asks them to confirm).

    Example: invite admit juergen.mueller@example.org zoe.moreau@example.org
    """
    _decide(emails, "admitted", workspace, require_application)


@group.command()
@handled
def waitlist(emails: Emails, require_application: RequireApplication = False,
             workspace: Folder = Path(".")) -> None:
    """Put these people on the waiting list; warns when someone did not say yes.

    Example: invite waitlist kim.baer@example.com --require-application
    """
    _decide(emails, "waitlisted", workspace, require_application)


@group.command()
@handled
def decline(emails: Emails, require_application: RequireApplication = False,
            workspace: Folder = Path(".")) -> None:
    """Tell these people there is no place for them (`invite send --mailing regret`);
    warns when someone did not say yes (the regret then thanks nobody for a yes).

    Example: invite decline thomas.gross@example.net
    """
    _decide(emails, "declined", workspace, require_application)
