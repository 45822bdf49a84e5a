"""Say why a run left mails for later: relays at their daily cap, relays that kept asking
to slow down, relays that could not be reached."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from mailer.delivery.jobs import SendReport
from rsvp.words import counted


def held_back(report: SendReport, left: int, plural: str) -> str | None:
    """The line for a run that ended with `left` mails queued because no relay would take
    more, e.g. "412 invitations left; relay smtp.example.org:587 allows more from
    00:00 UTC"; None when nothing is left."""
    if not left or not (report.capped or report.gave_up):
        return None
    reasons = []
    if report.capped:
        names = " and ".join(f"{name} ({cap} a day)" if cap is not None
                             else f"{name} (its provider's daily quota)"
                             for name, cap in report.capped)
        allows = "allows" if len(report.capped) == 1 else "allow"
        relays = "relay" if len(report.capped) == 1 else "relays"
        reasons.append(f"{relays} {names} {allows} more from 00:00 UTC")
    if report.gave_up:
        names = " and ".join(report.gave_up)
        reasons.append(f"{names} kept asking to slow down")
    return (f"{counted(left, plural)} left; {'; '.join(reasons)}. They stay queued for "
            "the next `invite send`.")


def until_midnight(now: datetime) -> float:
    """Seconds from `now` (aware) to the next 00:00 UTC, when daily caps start afresh."""
    now = now.astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    return (midnight - now).total_seconds()


def relay_warnings(report: SendReport, held: bool = False) -> list[str]:
    """One warning per relay that could not be reached while others could, and (unless
    `held` says so already) per relay that kept asking to slow down or used up its
    provider's quota while the others sent the rest."""
    lines = [f"Warning: {problem}; the mails went over the other relays"
             for problem in report.unreachable]
    if not held:
        lines += [f"Warning: relay {name} kept asking to slow down; the run went on without "
                  "it" for name in report.gave_up]
        lines += [f"Warning: relay {name} said its provider's daily quota is used up; the run "
                  "went on without it" for name, cap in report.capped if cap is None]
    return lines
