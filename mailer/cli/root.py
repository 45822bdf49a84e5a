"""The `invite` command line: one Typer app assembled from the command groups.

The groups know nothing of this module: each is a `typer.Typer()` of its own whose
commands are registered here, in the order `--help` lists them, so no command module
imports another and nothing imports the root.
"""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from mailer.cli.commands import (
    admission,
    bounces,
    links,
    mail,
    meetings,
    meetings_publish,
    nominations,
    people,
    report,
    reports,
    scheduling,
    setup,
    signing,
    web,
)
from mailer.cli.helptext import tidy_help

app = typer.Typer(
    help="Send invitations with personal RSVP links and collect the answers.",
    no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False,
)
for commands in (setup, mail, scheduling, reports, report, links, web, admission, people,
                 nominations, bounces):
    # The commands themselves, not a nested group: `invite send`, never `invite mail send`.
    app.registered_commands += commands.group.registered_commands
# The brokerage schedule is a group of its own: `invite meetings plan`, `... publish`.
meetings.group.registered_commands += meetings_publish.group.registered_commands
app.add_typer(meetings.group, name="meetings")
# DKIM keys and their DNS record (#9): `invite dkim new`, `invite dkim check`.
app.add_typer(signing.group, name="dkim")
tidy_help(app)


def _print_version(wanted: bool) -> None:
    """Print the version of the installed package: the one pip reports, not a copy."""
    if wanted:
        # Imported here: importlib.metadata costs every other command 20 ms at start-up.
        from importlib.metadata import version
        typer.echo(f"invite {version('invite')}")
        raise typer.Exit()


@app.callback()
def _root(show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version (of the installed package) and exit.")] = False) -> None:
    """Send invitations with personal RSVP links and collect the answers."""


def main() -> None:
    # Modules, typer's and rich's objects live as long as the process: kept out of the
    # collector's passes during the run and at exit (about 40 ms less per command).
    gc.freeze()
    app()
