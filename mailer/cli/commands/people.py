"""`invite record`, `history` and `forget`: the organiser's own entries about one person."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mailer.cli.common import Folder, confirm, err, handled, open_ws, out
from rsvp.admission import apply_first_come
from rsvp.answers import AnswerInvalidError, check_answer
from rsvp.errors import InviteError
from rsvp.privacy import forget_person

group = typer.Typer()


def _parse_answers(pairs: list[str], choices: set[str]) -> dict[str, object]:
    raw: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InviteError(f"--answer {pair!r} is not QUESTION=VALUE",
                              hint="For example: --answer parts=symposium --answer comment='By phone'")
        key = key.strip()
        if key in choices:
            listed = raw.setdefault(key, [])
            assert isinstance(listed, list)
            listed.append(value)
        else:
            raw[key] = value
    return raw


@group.command()
@handled
def record(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    attendance: Annotated[str, typer.Option(help="yes, no or maybe.")],
    answer: Annotated[list[str] | None, typer.Option(help="QUESTION=VALUE; repeat it.")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Record an answer that came by phone or mail, marked as entered by the organiser.

    Example: invite record anna@example.org --attendance yes --answer parts=symposium
    """
    ws = open_ws(workspace)
    person = ws.store.find_recipient(email)
    choices = {q.id for q in ws.event.questions if q.type == "choices"}
    try:
        clean_attendance, answers = check_answer(ws.event, attendance,
                                                 _parse_answers(answer or [], choices), "en")
    except AnswerInvalidError as error:
        raise InviteError(f"the answer for {person.email} was not recorded: {error.message}",
                          hint="`invite record --help` shows the form; question ids are in event.toml.") from None
    ws.store.record_answer(person.id, clean_attendance, answers, source="organiser")
    admission = apply_first_come(ws.store, ws.event, person.id)
    out.print(f"Recorded for {person.email}: {clean_attendance}.", markup=False)
    if admission is not None and admission.changed:
        out.print(f"{person.email}: {admission.recipient.admission or 'gave up their place'}",
                  markup=False)
        for moved in admission.promoted:
            out.print(f"{moved.email}: admitted from the waiting list", markup=False)


@group.command()
@handled
def history(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    workspace: Folder = Path("."),
) -> None:
    """Show every change of a person's answer, with time and source (web, api, organiser).

    Example: invite history anna@example.org
    """
    ws = open_ws(workspace)
    person = ws.store.find_recipient(email)
    rows = ws.store.history(person.id)
    if not rows:
        out.print(f"{person.email} has not answered yet.", markup=False)
        return
    table = Table(title=f"Answers of {person.email}")
    for column in ("time (UTC)", "source", "attendance", "answers"):
        table.add_column(column)
    for row in rows:
        answers = json.loads(row["answers"])
        shown = "; ".join(f"{k}={v}" for k, v in answers.items())
        table.add_row(row["recorded_at"], row["source"], row["attendance"], shown)
    out.print(table)


@group.command()
@handled
def forget(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    delete_files: Annotated[bool, typer.Option(
        "--delete-files", help="Also delete the workspace files that mention the person "
                               "(previews, dry runs, exports) without asking.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Erase a person's personal data (name, address, answers, history); counts stay.
    The address stays forgotten: a later import or nomination of it is skipped.

    Example: invite forget anna@example.org --yes
    """
    from mailer.people.traces import files_mentioning
    ws = open_ws(workspace)
    person = ws.store.find_recipient(email)
    if not yes and not confirm(f"Erase everything about {person.email}? This cannot be undone."):
        out.print("Nothing erased.")
        return
    traces = files_mentioning(ws.settings.workspace, (person.email, person.email_ascii),
                              ws.settings.database)
    erasure = forget_person(ws.store, person.id, keys=ws.settings.secret_keys)
    out.print(f"Erased the personal data of {person.email}; the deletion is logged "
              f"as recipient #{person.id}.", markup=False)
    if not erasure.checkpointed:
        err.print("Warning: a running `invite serve` still holds old pages of the database; "
                  "run `invite forget` again after stopping it to flush them.", markup=False)
    if traces:
        _offer_deletion(traces, ws.settings.workspace, delete_files)


def _offer_deletion(traces: list[Path], folder: Path, delete: bool) -> None:
    """List the files that still mention the person and delete them if asked to."""
    shown = [str(path.relative_to(folder)) for path in traces]
    count = f"{len(traces)} {'file' if len(traces) == 1 else 'files'}"
    out.print(f"{count} in the workspace still mention the person:", markup=False)
    for name in shown:
        out.print(f"  {name}", markup=False)
    if not delete:
        if not sys.stdin.isatty():
            err.print("Hint: delete them, or run again with --delete-files "
                      "(an import file holds other people too: edit it instead).", markup=False)
            return
        delete = typer.confirm(f"Delete these {count}?", default=False)
    if delete:
        for path in traces:
            path.unlink(missing_ok=True)
        out.print(f"Deleted {count}.", markup=False)
    else:
        out.print("Kept them; delete or edit them yourself.", markup=False)
