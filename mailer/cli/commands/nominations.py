"""`invite nominations`: see who was put forward on the answer page, and approve or reject.

A nominee gets no mail and holds no place until approved (`[nominations] approval`),
so the organiser, not a stranger with a link, decides who the relay writes to.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from mailer.cli.common import Folder, handled, open_ws, out
from rsvp.admission import withdraw_place
from rsvp.errors import InviteError
from rsvp.nomination_review import (
    APPROVED,
    PENDING,
    REJECTED,
    Nomination,
    decide_nominations,
    list_nominations,
)

group = typer.Typer()


@group.command()
@handled
def nominations(
    emails: Annotated[list[str] | None, typer.Argument(
        metavar="[EMAIL]...", help="With --approve or --reject: the people put forward.")] = None,
    approve: Annotated[bool, typer.Option(
        "--approve", help="Approve the nominations of EMAIL...: they get their invitation.")] = False,
    reject: Annotated[bool, typer.Option(
        "--reject", help="Reject the nominations of EMAIL...: they get no mail.")] = False,
    show_all: Annotated[bool, typer.Option(
        "--all", help="List approved and rejected nominations too.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """List the people put forward on the answer page that wait for your decision, or
    approve or reject them.

    Example: invite nominations --approve lena.roth@example.com
    """
    if approve and reject:
        raise InviteError("--approve and --reject cannot go together",
                          hint="Run the command once for each decision.")
    ws = open_ws(workspace)
    if approve or reject:
        if not emails:
            raise InviteError("name the people to decide on",
                              hint="For example: invite nominations --approve EMAIL EMAIL")
        state = APPROVED if approve else REJECTED
        for person_id, email, previous in decide_nominations(ws.store, emails, state):
            note = f" (was {previous})" if previous != PENDING else ""
            out.print(f"{email}: {state}{note}", markup=False)
            if state == REJECTED:
                # A nominee let in automatically may hold a place: it goes to the next.
                for moved in withdraw_place(ws.store, ws.event, person_id):
                    moved_up = ws.store.recipient(moved)
                    if moved_up is not None:
                        out.print(f"{moved_up.email}: admitted from the waiting list",
                                  markup=False)
        if approve:
            out.print("Next: `invite serve` sends their invitations within seconds, or run "
                      "`invite send`.", markup=False)
        return
    if emails:
        raise InviteError("addresses are only taken with --approve or --reject",
                          hint="`invite nominations` alone lists the nominations.")
    states = (PENDING, APPROVED, REJECTED) if show_all else (PENDING,)
    found = list_nominations(ws.store, states)
    if not found:
        out.print("No nominations wait for your decision." if not show_all
                  else "Nobody was put forward yet.", markup=False)
        return
    waiting = sum(item.state == PENDING for item in found)
    out.print(f"{len(found)} put forward, {waiting} waiting for your decision:"
              if show_all else f"{waiting} waiting for your decision:", markup=False)
    for item in found:
        out.print(_describe(item, ws.event.zone, show_all), markup=False)
    out.print("Decide with: invite nominations --approve EMAIL... or --reject EMAIL...",
              markup=False)


def _describe(item: Nomination, zone: ZoneInfo, show_state: bool) -> str:
    """Two lines per nomination: whom (addresses never wrapped), then by whom and when."""
    what = ", ".join(part for part in (item.organisation, item.role) if part)
    by = item.nominator_name or item.nominator_email
    if item.nominator_organisation:
        by += f" ({item.nominator_organisation})"
    state = f" [{item.state}]" if show_state else ""
    return (f"- {item.name} <{item.email}>{', ' + what if what else ''}{state}\n"
            f"  put forward by {by} <{item.nominator_email}> "
            f"on {_local(item.nominated_at, zone)}")


def _local(stamp: str, zone: ZoneInfo) -> str:
    """A stored UTC time as the event's local time, to the minute."""
    if not stamp:
        return ""
    moment = datetime.fromisoformat(stamp).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M")
