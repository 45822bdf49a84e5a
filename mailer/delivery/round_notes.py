"""What the background sender of `invite serve` logs about a round: the mails each
mailing sent, failed, deferred or left unknown, and each relay that could not be
reached, kept asking to slow down, or used up its provider's quota."""

from __future__ import annotations

import logging

from mailer.content.mailings import WITHDRAWAL, Mailing
from mailer.delivery.jobs import SendReport
from rsvp.errors import InviteError

log = logging.getLogger("invite.sender")

# How the log names one and several mails of each mailing a round sends.
_NAMES = {"invitation": ("invitation", "invitations"),
          "confirmation": ("confirmation", "confirmations"),
          "waitlist": ("waiting-list notice", "waiting-list notices"),
          WITHDRAWAL: ("withdrawal acknowledgement", "withdrawal acknowledgements")}
_SENT_TO = {"invitation": " to people put forward", "confirmation": "", "waitlist": "",
            WITHDRAWAL: ""}
# What the log says could not be sent.
_WHAT = {"invitation": "nominees' invitations", "confirmation": "confirmations",
         "waitlist": "waiting-list notices", WITHDRAWAL: "withdrawal acknowledgements"}


def note(mailing: Mailing, report: SendReport) -> None:
    """Log what one mailing's run did."""
    one = _NAMES[mailing.kind][0]
    for address, reply in report.failed:
        log.warning("the %s to %s failed for good: %s", one, address, reply)
    for address, reply in report.deferred:
        log.warning("the %s to %s was deferred: %s", one, address, reply)
    for address, reply in report.unknown:
        log.warning("the %s to %s may or may not have arrived: %s", one, address, reply)
    if report.sent:
        log.info("sent %d %s%s", report.sent, _NAMES[mailing.kind][report.sent != 1],
                 _SENT_TO[mailing.kind])


def note_relays(report: SendReport, pause: float | None) -> None:
    """One warning per relay that could not be reached or kept asking to slow down, and
    per relay whose provider's quota is used up (`pause`: when the rounds go on)."""
    later = f"; next round in {pause:.0f} s" if pause is not None else ""
    for problem in dict.fromkeys(report.unreachable):
        log.warning("%s; the other relays carried on%s", problem, later)
    for name in dict.fromkeys(report.gave_up):
        log.warning("relay %s kept asking to slow down; left alone for this round%s",
                    name, later)
    for name in dict.fromkeys(name for name, cap in report.capped if cap is None):
        log.warning("relay %s said its provider's daily quota is used up; it gets no more "
                    "mail until 00:00 UTC", name)


def log_failures(failures: list[tuple[Mailing, InviteError]], pause: float) -> None:
    """Log why each mailing could not go out."""
    for mailing, error in failures:
        log.error("could not send %s: %s; next try in %.0f s%s",
                  _WHAT.get(mailing.kind, mailing.plural),
                  error.message, pause, f" ({error.hint})" if error.hint else "")
