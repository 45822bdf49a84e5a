"""`invite record`, `history` and `forget`: the organiser's own entries about one person."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, confirm, err, handled, open_ws, out
from rsvp.admission import apply_first_come
from rsvp.answers import AnswerInvalidError, check_answer
from rsvp.config import EventConfig
from rsvp.errors import InviteError
from rsvp.privacy import forget_person
from rsvp.withdrawals import WITHDRAWN, mark_seen, unseen
from rsvp.words import counted

group = typer.Typer()


def _parse_answers(pairs: list[str], event: EventConfig) -> dict[str, object]:
    """Read `--answer QUESTION=VALUE` pairs; a question or option the event does not have
    is named with the ones it has, so the next try can be right."""
    raw: dict[str, object] = {}
    choices = {q.id for q in event.questions if q.type == "choices"}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InviteError(f"--answer {pair!r} is not QUESTION=VALUE",
                              hint="For example: --answer parts=symposium --answer comment='By phone'")
        key = key.strip()
        question = event.question(key)
        if question is None:
            raise InviteError(f"--answer {pair} names no question; use one of: "
                              f"{', '.join(q.id for q in event.questions)}")
        if question.options and value not in {option.id for option in question.options}:
            raise InviteError(f"--answer {pair} is not a choice; use one of: "
                              f"{', '.join(option.id for option in question.options)}")
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

    Example: invite record anna@example.org --attendance yes --answer parts=visits
    """
    ws = open_ws(workspace)
    person = ws.store.find_recipient(email)
    try:
        clean_attendance, answers = check_answer(ws.event, attendance,
                                                 _parse_answers(answer or [], ws.event), "en")
    except AnswerInvalidError as error:
        raise InviteError(f"the answer for {person.email} was not recorded: {error.message}",
                          hint="`invite record --help` shows the form; question ids are in event.toml.") from None
    ws.store.record_answer(person.id, clean_attendance, answers, source="organiser")
    admission = apply_first_come(ws.store, ws.event, person.id)
    out.print(f"Recorded for {person.email}: {clean_attendance}.", markup=False)
    if admission is not None and admission.changed:
        if admission.recipient.admission == WITHDRAWN:
            # Told here, so the next command's note does not tell it again.
            mark_seen(ws.store, unseen(ws.store))
            out.print(f"{person.email}: withdrawn; their place is free again", markup=False)
        elif admission.previous == WITHDRAWN and admission.recipient.admission is None:
            out.print(f"{person.email}: applies again; yours to decide (invite admit)",
                      markup=False)
        else:
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

    Times are in the event's time zone; answers read as the form's labels.

    Example: invite history anna@example.org
    """
    from mailer.reports.history import history_table
    ws = open_ws(workspace)
    person = ws.store.find_recipient(email)
    rows = ws.store.history(person.id)
    if not rows:
        out.print(f"{person.email} has not answered yet.", markup=False)
        return
    out.print(history_table(person.email, rows, ws.event))


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
    count = counted(len(traces), "files")
    mention = "mentions" if len(traces) == 1 else "mention"
    out.print(f"{count} in the workspace still {mention} the person:", markup=False)
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
