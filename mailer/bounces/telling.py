"""Say what a pass over the bounce mailbox did, naming the people, for the organiser."""

from __future__ import annotations

from rich.console import Console

from mailer.bounces.intake import IntakeReport


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def summary(report: IntakeReport) -> str:
    """One line: how many messages were read and what each was."""
    return (f"Read {_plural(report.total, 'message', 'messages')}: "
            f"{len(report.hard)} hard {'bounce' if len(report.hard) == 1 else 'bounces'}, "
            f"{len(report.soft)} soft, "
            f"{_plural(len(report.auto_replies), 'auto-reply', 'auto-replies')}, "
            f"{_plural(report.notices, 'notice', 'notices')}, "
            f"{report.already_seen} already seen, "
            + (f"{report.forgotten} about people forgotten, " if report.forgotten else "") +
            f"{len(report.unmatched)} unmatched, {len(report.not_understood)} not understood.")


def intake_lines(report: IntakeReport, soft_limit: int) -> list[str]:
    """The lines `invite bounces` prints (and the IMAP reader logs)."""
    lines = [summary(report)]
    marked = report.marked
    if marked:
        lines.append(f"Marked bounced, no further mail goes to them "
                     f"({_plural(len(marked), 'person', 'people')}):")
        lines += [f"  {item.email}: {item.reason}" for item in marked]
    counted = [item for item in report.soft if not item.marked]
    if counted:
        lines.append(f"Soft bounces counted (marked after {soft_limit}):")
        lines += [f"  {item.email}: {item.reason}" for item in counted]
    again = [item for item in report.hard if not item.marked]
    if again:
        lines.append("Hard bounces of people marked before:")
        lines += [f"  {item.email}: {item.reason}" for item in again]
    if report.auto_replies:
        lines.append("Auto-replies (not bounces):")
        lines += [f"  {item.email or 'someone not matched'}: {item.reason}"
                  for item in report.auto_replies]
    if report.unmatched:
        lines.append("Bounces that name no mail of this workspace (left alone; a forged "
                     "report could name anyone):")
        lines += [f"  {source}: {addresses}" for source, addresses in report.unmatched]
    if report.not_understood:
        lines.append("Not understood (left alone):")
        lines += [f"  {source}: {why}" for source, why in report.not_understood]
    return lines


def tell_intake(report: IntakeReport, soft_limit: int, console: Console) -> None:
    """Print the report to the organiser."""
    for line in intake_lines(report, soft_limit):
        console.print(line, markup=False, highlight=False)
