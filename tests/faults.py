"""The fault suite's shared parts: a relay that files each whole message the moment it
arrives (so "what the relay received" survives the sender dying mid-reply), and
`invite send` as a real process that can be interrupted or killed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mailer.cli.catcher import MailCatcher, start_catcher
from mailer.delivery.outbox import Outbox
from rsvp.store import NewRecipient, Store
from tests.conftest import TEST_KEY, person

GRACE = 10.0  # the grace period `invite send` announces after a first Ctrl-C


class FaultRelay(MailCatcher):
    """Files each message as soon as its end of data arrives, then answers after `delay`
    seconds; never answers mails to an address in `stall`; `slow` maps an address to a
    longer delay for its next mail only."""

    def __init__(self, delay: float = 0.02, stall: set[str] | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.stall = stall or set()
        self.slow: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        address = envelope.rcpt_tos[0]
        if address in self.stall:
            await asyncio.sleep(3600)  # until the sender's line drops
        await asyncio.sleep(self.slow.pop(address, self.delay))
        return reply

    def received(self) -> list[str]:
        """The address of each whole message received, in order, repeats included."""
        return [mail.recipients[0] for mail in self.snapshot()]


@contextmanager
def fault_relay(delay: float = 0.02, stall: set[str] | None = None
                ) -> Iterator[tuple[FaultRelay, int]]:
    relay = FaultRelay(delay, stall)
    controller = start_catcher(relay)
    try:
        yield relay, controller.port
    finally:
        controller.stop()


def people(count: int) -> list[NewRecipient]:
    return [person(f"p{i:04d}@example.org", "en", last_name=f"P{i}") for i in range(count)]


def environment(port: int) -> dict[str, str]:
    return {**os.environ, "INVITE_SECRET_KEY": TEST_KEY, "INVITE_SMTP_HOST": "127.0.0.1",
            "INVITE_SMTP_PORT": str(port), "INVITE_BASE_URL": "https://rsvp.example.org"}


def start_send(workspace: Path, port: int, *args: str) -> subprocess.Popen[str]:
    """`invite send --yes ARGS` in its own process, output (stdout and stderr) piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", "send", "--yes", *args, "-w", str(workspace)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment(port))


def send(workspace: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`invite send --yes ARGS` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "mailer", "send", "--yes", *args, "-w", str(workspace)],
        capture_output=True, text=True, env=environment(port), timeout=60, check=False)


def wait_for(check: Callable[[], Any], what: str, seconds: float = 15.0) -> Any:
    """Poll `check` until it returns something true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return found


def interrupt(process: subprocess.Popen[str], *pauses: float,
              limit: float = GRACE + 2) -> tuple[float, str]:
    """Send SIGINT, and again after each of `pauses`; return the seconds from the last
    SIGINT until the process ended, and its output. Kill it (and fail) past `limit`."""
    process.send_signal(signal.SIGINT)
    for pause in pauses:
        time.sleep(pause)
        process.send_signal(signal.SIGINT)
    start = time.monotonic()
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"invite send still ran {limit} s after Ctrl-C:\n{output}") from None
    return time.monotonic() - start, output


def states(store: Store) -> dict[str, str]:
    """Each address's invitation row state."""
    return {row["email"]: row["state"] for row in Outbox(store).export_rows()
            if row["mailing"] == "invitation"}


def summary_figure(output: str, label: str) -> int:
    """A figure of `invite send`'s summary table."""
    found = re.search(rf"{re.escape(label)}\s*\S\s*(\d+)", output)
    assert found, f"no {label!r} in the summary:\n{output}"
    return int(found.group(1))


def twice(addresses: list[str]) -> list[str]:
    return sorted(address for address, n in Counter(addresses).items() if n > 1)
