"""Make every command's `--help` read well at 80 columns.

Typer joins the lines of a docstring's first paragraph but keeps the line breaks of the
others, and the command list keeps them all; docstrings are wrapped for the source
(under 100 columns), so at 80 a line broke in two at each of them. Each paragraph is
made one line here and the terminal wraps it; an `Example:` stays as written, and the
examples are short enough (tests/test_cli.py) to fit one line at 80 columns.
"""

from __future__ import annotations

import inspect

import typer


def reflow(doc: str) -> str:
    """`doc` with each paragraph on one line (paragraphs stay apart)."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def tidy_help(app: typer.Typer) -> None:
    """Reflow the help of `app`'s commands and of its groups' commands, in place."""
    for info in app.registered_commands:
        doc = info.help or (info.callback.__doc__ if info.callback else None)
        if doc:
            info.help = reflow(doc)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            tidy_help(group.typer_instance)
