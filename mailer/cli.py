"""The `invite` command line: the composition root wiring settings, store, sender and app."""

from __future__ import annotations

import functools
import gc
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from mailer.outbox import MAILINGS
from rsvp.errors import InviteError, RecipientFileError

app = typer.Typer(
    help="Send invitations with personal RSVP links and collect the answers.",
    no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False,
)
# soft_wrap: an error line stays one line, whatever the terminal's width.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Folder = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder.",
                                      file_okay=False)]
F = TypeVar("F", bound=Callable[..., Any])


def handled(command: F) -> F:
    """Turn the core's errors into one `Error: ...` line (and a hint) with exit code 1."""
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
            raise typer.Exit(1) from None
    return wrapper  # type: ignore[return-value]


def _workspace(folder: Path) -> Any:
    from mailer.workspace import open_workspace
    return open_workspace(folder)


@app.command()
@handled
def init(folder: Annotated[Path, typer.Argument(help="Folder to create.")]) -> None:
    """Write a workspace with the example event, sample recipients and a templates/ folder.

    Example: invite init limoges-2027
    """
    from mailer.workspace import init_workspace
    init_workspace(folder)
    out.print(f"Wrote {folder / 'event.toml'}, {folder / 'recipients.csv'} and {folder / 'templates'}/")
    out.print(f"Next: cd {folder} && invite import recipients.csv && invite preview <email>")


@app.command("import")
@handled
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX file with an email column.")],
    skip_invalid: Annotated[bool, typer.Option(help="Import the good rows, list the bad.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Load recipients from CSV or XLSX; a file with bad rows imports nothing.

    Example: invite import recipients.csv
    """
    from mailer.importer import import_recipients
    ws = _workspace(workspace)
    report = import_recipients(ws.store, file, ws.event, skip_invalid=skip_invalid)
    out.print(f"Imported {file.name}: {report.added} added, {report.updated} updated.")
    if report.skipped:
        rows = len({problem.line for problem in report.skipped})
        err.print(f"Skipped {rows} bad {'row' if rows == 1 else 'rows'}:", markup=False)
        for problem in report.skipped:
            err.print(f"  {problem}", markup=False)


@app.command()
@handled
def preview(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    mailing: Annotated[str, typer.Option(
        help="invitation, reminder, confirmation, regret, waitlist or update.")] = "invitation",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write an .eml file here.")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Show one recipient's mail: subject and text, or the whole message as .eml.

    Example: invite preview juergen.mueller@example.org --mailing reminder
    """
    from mailer.mailing import Composer, eml_filename
    _check_mailing(mailing)
    ws = _workspace(workspace)
    recipient = ws.store.find_recipient(email)
    composer = Composer(ws.settings, ws.event, ws.store)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        ready = composer.compose(mailing, recipient)
        path = out_dir / eml_filename(mailing, recipient.email_ascii)
        path.write_bytes(ready.data)
        out.print(f"Wrote {path}")
        return
    mail, _ = composer.render(mailing, recipient)
    out.print(f"Subject: {mail.subject}\n", markup=False)
    out.print(mail.text, markup=False)


def _check_mailing(mailing: str) -> None:
    if mailing not in MAILINGS:
        raise InviteError(f"unknown mailing {mailing!r}; use one of {', '.join(MAILINGS)}")


@app.command()
@handled
def send(
    mailing: Annotated[str, typer.Option(
        help="invitation, reminder, confirmation, regret, waitlist or update.")] = "invitation",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[Path | None, typer.Option(help="Write .eml files to this folder instead.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most N mails this run.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="SMTP connections.")] = 8,
    rate: Annotated[float | None, typer.Option(min=0.1, help="At most this many mails per minute.")] = None,
    retry_delay: Annotated[float, typer.Option(min=0, help="First retry after this many seconds; doubles.")] = 2.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Tries per mail in this run.")] = 3,
    resend_unknown: Annotated[bool, typer.Option(help="Resend mails whose fate a crash left unknown.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Queue the mailing for everyone who should get it and send it through the relay.

    Example: invite send --mailing invitation --rate 600
    """
    from mailer.campaign import run_send
    from mailer.sender import SendOptions
    _check_mailing(mailing)
    options = SendOptions(mailing=mailing, concurrency=concurrency, rate_per_minute=rate,
                          retry_delay=retry_delay, max_attempts=max_attempts, limit=limit,
                          resend_unknown=resend_unknown)
    ws = _workspace(workspace)
    ok = run_send(ws, options, out, err, dry_run=dry_run, confirm=None if yes else _confirm)
    if not ok:
        raise typer.Exit(1)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise InviteError(f"{question} needs a yes, and there is no terminal to ask",
                          hint="Add --yes to go ahead without being asked.")
    return typer.confirm(question, default=False)


@app.command()
@handled
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    workspace: Folder = Path("."),
) -> None:
    """Show mails per mailing and state, the answers so far and quota use.

    Example: invite status --json
    """
    from mailer.status import collect_status, render_status
    ws = _workspace(workspace)
    report = collect_status(ws.store, ws.event)
    if as_json:
        out.print_json(json.dumps(report, ensure_ascii=False))
    else:
        render_status(report, out)


@app.command()
@handled
def export(
    what: Annotated[str | None, typer.Option(
        help="responses, recipients, outbox, meetings, or all (every sheet in one workbook; "
             "the default with --format xlsx, else responses).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Export answers, recipients, the outbox or brokerage wishes; XLSX holds them all.

    Example: invite export --format xlsx -o limoges.xlsx
    """
    from mailer.export import WORKBOOK, export_table, write_export
    from mailer.workbook import write_workbook
    ws = _workspace(workspace)
    what = what or (WORKBOOK if fmt == "xlsx" else "responses")
    if what == WORKBOOK and fmt == "xlsx":
        write = functools.partial(write_workbook, ws.store, ws.event)
    else:
        columns, rows = export_table(ws.store, ws.event, what)
        write = functools.partial(write_export, columns, rows, fmt)
    if output is None:
        if fmt == "xlsx":
            raise InviteError("XLSX cannot go to the terminal", hint="Add -o FILE.xlsx.")
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    write(output)
    err.print(f"Wrote {output}", markup=False)


@app.command()
@handled
def revoke(
    email: Annotated[str, typer.Argument(help="The recipient's address.")],
    workspace: Folder = Path("."),
) -> None:
    """Make a person's links stop working; their next mail carries new ones.

    Example: invite revoke forwarded.link@example.org
    """
    ws = _workspace(workspace)
    recipient = ws.store.find_recipient(email)
    version = ws.store.revoke_link(recipient.id)
    out.print(f"Links of {recipient.email} revoked (now version {version}).")


@app.command()
@handled
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    no_sender: Annotated[bool, typer.Option(
        "--no-sender", help="Send nothing in the background (invitations to people put "
                            "forward, first-come decisions); `invite send` does it then.")] = False,
    send_interval: Annotated[float, typer.Option(
        min=0.1, help="Seconds between the background sender's looks for mail due.")] = 2.0,
    workspace: Folder = Path("."),
) -> None:
    """Run the RSVP web app for recipients (put it behind your HTTPS proxy), and the
    background sender: within seconds it invites the people they put forward and, in
    first-come events, sends confirmations and waiting-list notices.

    Example: INVITE_BASE_URL=https://rsvp.example.org invite serve --port 8000
    """
    from mailer.serve import run_server
    ws = _workspace(workspace)
    ws.close()
    run_server(workspace.resolve(), host, port, workers,
               send_interval=None if no_sender else send_interval)


@app.command()
@handled
def demo(
    port: Annotated[int, typer.Option(help="Port of the web app.")] = 8000,
    smtp_port: Annotated[int, typer.Option(help="Port of the built-in mail catcher.")] = 8025,
    folder: Annotated[Path | None, typer.Option(help="Workspace to create (default: a temporary folder).")] = None,
) -> None:
    """Run the whole loop locally: example workspace, mail catcher, web app, sent invitations.

    Example: invite demo --port 8000
    """
    from mailer.demo import run_demo
    run_demo(port=port, smtp_port=smtp_port, folder=folder, console=out)


def main() -> None:
    # Modules, typer's and rich's objects live as long as the process: kept out of the
    # collector's passes during the run and at exit (about 40 ms less per command).
    gc.freeze()
    app()


# Commands about one person live in their own module; importing it registers them.
from mailer import cli_admission, cli_people  # noqa: F401
