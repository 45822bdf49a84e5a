"""Run the CLI as `python -m mailer`."""

from mailer.cli import main

main()
