"""The bounce poll of `invite serve --bounces-every`: read the IMAP bounce folder now and then.

It runs in a daemon thread of the serving process, beside the background sender, so
neither IMAP nor the database ever waits on the web app's event loop. Each poll opens an
IMAP session and a store connection of its own and closes both (a server that drops an
idle line in between costs nothing). A failing server is logged with what to fix and
tried again at the next period; the server goes on serving. A poll reads at most
MAX_PER_POLL messages, so that a flood of mail to the bounce address costs one bounded
piece of work per period; if the server refuses to mark mail handled, the poller's
imap.Progress lets the next poll go on with newer mail. `stop` ends the wait at once; a poll in progress finishes
(each IMAP step gives up after mailer.bounces.imap.TIMEOUT).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

from mailer.bounces.imap import Progress, take_in_new
from mailer.bounces.intake import IntakeReport, take_in
from mailer.bounces.telling import intake_lines
from rsvp.bounce_config import BounceRules
from rsvp.errors import ConfigError, InviteError
from rsvp.imap_settings import BounceMailbox
from rsvp.settings import Settings
from rsvp.store import Store, open_store

log = logging.getLogger("invite.bounces")

MAX_PER_POLL = 1000
SHORTEST_PERIOD = 1.0
LONGEST_PERIOD = 7 * 24 * 3600.0  # longer is a typo (and overflows the thread's wait)
_PERIOD = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def period_seconds(text: str) -> float:
    """Seconds in a period such as `10m`, `90s`, `1h` or `30` (seconds)."""
    match = _PERIOD.fullmatch(text.strip().lower())
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if seconds < SHORTEST_PERIOD:
        raise ConfigError(f"--bounces-every is {text!r}, not a period of at least a second",
                          hint="Give minutes, seconds or hours: 10m, 90s, 1h.")
    if seconds > LONGEST_PERIOD:
        raise ConfigError(f"--bounces-every is {text!r}, longer than 7 days (168h)",
                          hint="Poll at least weekly: 10m, 1h or 24h are usual.")
    return seconds


def read_bounce_folder(store: Store, settings: Settings, mailbox: BounceMailbox,
                       rules: BounceRules, limit: int | None = None,
                       told: Callable[[IntakeReport], object] | None = None,
                       progress: Progress | None = None) -> IntakeReport:
    """Take in the new messages of the IMAP bounce folder, give the report to `told`, and
    mark them handled there (a refused marking raises MailboxError after `told`)."""
    return take_in_new(mailbox, lambda messages: take_in(store, settings, messages, rules),
                       limit, told, progress)


class BouncePoller:
    """Polls the bounce folder every `every` seconds in a daemon thread until `stop`."""

    def __init__(self, settings: Settings, mailbox: BounceMailbox, rules: BounceRules,
                 every: float) -> None:
        self.settings = settings
        self.mailbox = mailbox
        self.rules = rules
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = Progress()

    @property
    def source(self) -> str:
        """The folder, as the log names it."""
        return f"{self.mailbox.folder!r} on {self.mailbox.address}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="invite-bounce-poll",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 40.0) -> None:
        """End the waiting, and wait up to `timeout` for a poll in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the bounce poll did not finish within %.0f s", timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.every)

    def poll(self) -> IntakeReport | None:
        """One poll; None if it failed (logged: a poll must never take the server down)."""
        try:
            store = open_store(self.settings.database)
            try:
                report = read_bounce_folder(store, self.settings, self.mailbox, self.rules,
                                            MAX_PER_POLL, self._log, self._progress)
            finally:
                store.close()
        except InviteError as error:
            log.error("could not read bounces from %s: %s; next try in %s%s", self.source,
                      error.message, said(self.every), f" ({error.hint})" if error.hint else "")
            return None
        except Exception:
            log.exception("reading bounces from %s failed; next try in %s", self.source,
                          said(self.every))
            return None
        return report

    def _log(self, report: IntakeReport) -> None:
        if report.total:
            for line in intake_lines(report, self.rules.soft_limit):
                log.info("bounces: %s", line.strip())


def said(seconds: float) -> str:
    """A period as a person says it: 10 min, 90 s, 2 h."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
