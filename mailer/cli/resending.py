"""The terminal side of sending on purpose: `invite send --again` and `--include-maybe`
checked against the rest of the command line, and the hint a plain `--to` gets when
the people it names already had the mailing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from mailer.delivery.resend import already_got, check_again
from mailer.delivery.selection import Selection
from mailer.delivery.sender import SendOptions
from mailer.people.workspace import Workspace
from rsvp.errors import InviteError


def send_options(ws: Workspace, options: SendOptions, selection: Selection, again: bool,
                 include_maybe: bool, at: str | None, dry_run: Path | None,
                 err: Console) -> SendOptions:
    """Check `--again` and `--include-maybe`; return the options with the reminder widened
    to the undecided if asked. Without `--again`, say which named people already had the
    mailing: they will not get it twice."""
    mailing = options.mailing
    if include_maybe:
        if mailing.kind != "reminder":
            raise InviteError("--include-maybe works with --mailing reminder only",
                              hint="E.g. invite send --mailing reminder --include-maybe")
        if at is not None:
            raise InviteError("--include-maybe cannot be scheduled with --at yet",
                              hint="Send it at the time you want without --at.")
        options = replace(options, mailing=replace(mailing, also_maybe=True))
    if again:
        check_again(mailing, selection.to)
        if at is not None or dry_run is not None:
            raise InviteError("--again sends at once; it does not go with --at or --dry-run",
                              hint="Preview the mail with `invite preview EMAIL --mailing "
                                   f"{mailing.kind}`, then send with --again.")
    elif selection.to:
        had = already_got(ws.store, mailing, selection.to)
        if had:
            shown = ", ".join(had[:5]) + (" ..." if len(had) > 5 else "")
            err.print(f"Note: {shown} already got the {mailing.kind} and will not get it "
                      "twice.", markup=False)
            err.print("Hint: add --again to send it to them once more on purpose.",
                      markup=False)
    return options
