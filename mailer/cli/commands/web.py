"""`invite serve` and `demo`: the answer page with its background sender, and the whole loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import Folder, handled, open_ws, out

group = typer.Typer()


@group.command()
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
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        help="Your reverse proxy's address(es), comma-separated: only from these is "
             "X-Forwarded-For believed (rate limits count the client it names). "
             "Without it the connecting address counts.")] = None,
    bounces_every: Annotated[str | None, typer.Option(
        help="Also read the IMAP bounce folder (INVITE_BOUNCE_IMAP_*) this often, e.g. 10m, "
             "and mark the addresses that bounced.")] = None,
    workspace: Folder = Path("."),
) -> None:
    """Run the RSVP web app for recipients (put it behind your HTTPS proxy), and the
    background sender: within seconds it invites the people they put forward and, in
    first-come events, sends confirmations and waiting-list notices. Set INVITE_BASE_URL
    to its public address first.

    Example: invite serve --forwarded-allow-ips 127.0.0.1
    """
    from mailer.bounces.poll import period_seconds
    from mailer.cli.serve import run_server
    every = period_seconds(bounces_every) if bounces_every is not None else None
    ws = open_ws(workspace)
    ws.close()
    run_server(workspace.resolve(), host, port, workers,
               send_interval=None if no_sender else send_interval,
               forwarded_allow_ips=forwarded_allow_ips.strip() if forwarded_allow_ips else None,
               bounces_every=every)


@group.command()
@handled
def demo(
    port: Annotated[int | None, typer.Option(
        help="Port of the web app [default: 8000, or a free one if it is taken].",
        show_default=False)] = None,
    smtp_port: Annotated[int | None, typer.Option(
        help="Port of the built-in mail catcher [default: 8025, or a free one if it is taken].",
        show_default=False)] = None,
    folder: Annotated[Path | None, typer.Option(
        help="Workspace to create and keep (default: a temporary folder, removed when the "
             "demo stops).")] = None,
) -> None:
    """Run the whole loop locally: example workspace, mail catcher, web app, sent invitations;
    open http://127.0.0.1:8000/ to read the caught mails. Ctrl-C stops it.

    Example: invite demo --port 8000
    """
    from mailer.cli.demo import run_demo
    run_demo(port=port, smtp_port=smtp_port, folder=folder, console=out)
