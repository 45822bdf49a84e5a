"""What every command shares: the consoles, the workspace option, and one error handler."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from rsvp.errors import InviteError, RecipientFileError

if TYPE_CHECKING:
    from mailer.people.workspace import Workspace

# soft_wrap: an error line stays one line, whatever the terminal's width.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Folder = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder.",
                                      file_okay=False)]
# Choosing who gets a mailing: `invite send` and `invite preview` (mailer.cli.choosing).
BatchOption = Annotated[list[str] | None, typer.Option(
    "--batch", help="Only people of this batch (repeat it for several).")]
WhereOption = Annotated[list[str] | None, typer.Option(
    "--where", help="Only people with FIELD=VALUE, or FIELD!=VALUE for \"not\"; repeat it: "
                    "all must hold. Fields: role, language, sector, organisation, batch, "
                    "attendance (yes, no, maybe, none), admission (admitted, waitlisted, "
                    "declined, withdrawn, none), extra.COLUMN (a column of the import).")]
ToOption = Annotated[list[str] | None, typer.Option(
    "--to", help="Only these addresses (repeat it, or separate them with commas).")]
ExcludeOption = Annotated[list[str] | None, typer.Option(
    "--exclude", help="Not these addresses (repeat it, or separate them with commas).")]
ExcludeFileOption = Annotated[Path | None, typer.Option(
    "--exclude-file", help="Not the addresses in this text or CSV file.", dir_okay=False)]
F = TypeVar("F", bound=Callable[..., Any])


def handled(command: F) -> F:
    """Turn the core's errors into one `Error: ...` line (and a hint) with the error's
    exit code (1, or e.g. 75 for a relay that asks to try later)."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InviteError as error:
            err.print(f"Error: {error.message}", markup=False)
            if isinstance(error, RecipientFileError):
                for problem in error.problems:
                    err.print(f"  {problem}", markup=False)
            if error.hint:
                err.print(f"Hint: {error.hint}", markup=False)
            raise typer.Exit(error.exit_code) from None
    return wrapper  # type: ignore[return-value]


def open_ws(folder: Path) -> Workspace:
    """Open the workspace in `folder`; imported here so that `--help` stays fast.

    Whatever the command, the organiser learns here (once, on stderr so that `--json`
    output stays clean) of admitted people who withdrew on the answer page since."""
    from mailer.people.workspace import open_workspace
    from rsvp.withdrawals import pending_notice
    ws = open_workspace(folder)
    note = pending_notice(ws.store)
    if note:
        err.print(note, markup=False)
    return ws


def confirm(question: str) -> bool:
    """Ask a yes/no question; without a terminal, say which flag answers it, and what it
    would have asked (the counts in it are what the organiser checks before --yes)."""
    if not sys.stdin.isatty():
        raise InviteError(f"`{command_name()}` needs --yes when it cannot ask (no terminal)",
                          hint=f"Add --yes to answer yes to: {question}")
    return typer.confirm(question, default=False)


def command_name() -> str:
    """The running command as the organiser typed it, e.g. `invite meetings publish`
    (whatever name the program was started under: tests run it as another)."""
    import importlib
    try:  # typer 0.2x carries its own copy of click; earlier ones use click itself
        globals_ = importlib.import_module("typer._click.globals")
    except ImportError:  # pragma: no cover
        globals_ = importlib.import_module("click.globals")
    names: list[str] = []
    context = globals_.get_current_context(silent=True)
    while context is not None and context.parent is not None:
        names.append(context.info_name or "")
        context = context.parent
    return " ".join(["invite", *reversed(names)])
