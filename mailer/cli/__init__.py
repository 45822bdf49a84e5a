"""The organiser's command line, on top of everything else in `mailer`.

Holds the Typer app (`root`) and its command groups (`commands/`), the terminal side of a
send (`campaign`, `resending`), `invite serve` and `invite demo` with its mail catcher. It may import
every other package of `mailer` and the domain in `rsvp`; nothing imports it.
"""

from mailer.cli.root import app, main

__all__ = ["app", "main"]
