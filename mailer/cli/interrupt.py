"""Ctrl-C during `invite send`: the first stops handing out mails and lets those in flight
finish, for a short grace period; a second, or the end of that period, stops at once.

Signals are handled by the event loop (`loop.add_signal_handler`), not by letting
KeyboardInterrupt cancel `asyncio.run`'s task: the run then ends through its own
stopping path, which writes what it knows to the outbox and returns its report.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable

from mailer.delivery.sender import Sender, SendReport

GRACE_SECONDS = 10.0


class _Interrupts:
    """What Ctrl-C has done so far to one run."""

    def __init__(self, sender: Sender, say: Callable[[str], None], grace: float) -> None:
        self.sender = sender
        self.say = say
        self.grace = grace
        self.count = 0
        self.timer: asyncio.TimerHandle | None = None

    def on_sigint(self) -> None:
        self.count += 1
        if self.count == 1:
            in_flight = self.sender.stop()
            mails = "mail" if in_flight == 1 else "mails"
            self.say(f"Stopping: finishing {in_flight} {mails} in flight (at most "
                     f"{self.grace:g} s); Ctrl-C again to stop at once")
            self.timer = asyncio.get_running_loop().call_later(self.grace, self.abort)
        else:
            self.say("Stopping at once")
            self.abort()

    def abort(self) -> None:
        self.sender.abort()


def send_interruptibly(sender: Sender, say: Callable[[str], None],
                       grace: float = GRACE_SECONDS) -> SendReport:
    """Run `sender` in a fresh event loop with Ctrl-C handled as described above; the
    report says whether the run was interrupted."""
    return asyncio.run(_run(sender, say, grace))


async def _run(sender: Sender, say: Callable[[str], None], grace: float) -> SendReport:
    loop = asyncio.get_running_loop()
    interrupts = _Interrupts(sender, say, grace)
    if threading.current_thread() is not threading.main_thread() or sys.platform == "win32":
        return await sender.run()  # only the main thread (on POSIX) can take signals
    loop.add_signal_handler(signal.SIGINT, interrupts.on_sigint)
    try:
        return await sender.run()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if interrupts.timer is not None:
            interrupts.timer.cancel()
