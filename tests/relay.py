"""A real aiosmtpd relay on 127.0.0.1 with scripted failures, for sending tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mailer.cli.catcher import MailCatcher, start_catcher


class ScriptedRelay(MailCatcher):
    """Records mails; can refuse, defer, drop the connection or be slow, per address."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse_rcpt: dict[str, str] = {}      # address -> reply at RCPT
        self.defer_times: dict[str, int] = {}      # address -> how many 451s at DATA
        self.drop_times: dict[str, int] = {}       # address -> hang-ups after the whole message
        self.hangup_at_rcpt: dict[str, int] = {}   # address -> hang-ups before the message
        self.closing_times: dict[str, int] = {}    # address -> "421, closing" after the message
        self.arrivals: list[float] = []            # monotonic time each message arrived
        self.garble_times: dict[str, int] = {}     # address -> unreadable replies to the message
        self.refuse_reconnects = 0                 # EHLOs after the first to refuse with 554
        self.ehlos = 0
        self.delay = 0.0                           # seconds before answering DATA
        self.data_attempts: dict[str, int] = {}
        self.in_flight = 0
        self.offer_8bitmime = True
        self.mail_options: list[list[str]] = []
        self.most_in_flight = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        self.ehlos += 1
        if self.ehlos > 1 and self.refuse_reconnects > 0:
            self.refuse_reconnects -= 1
            return ["554 5.7.0 Too many connections, try again later"]
        if self.offer_8bitmime:
            return responses
        return [line for line in responses if "8BITMIME" not in line.upper()]

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        self.mail_options.append(list(mail_options))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.hangup_at_rcpt.get(address, 0) > 0:
            self.hangup_at_rcpt[address] -= 1
            server.transport.close()
            return "421 closing"
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        self.arrivals.append(time.monotonic())
        self.data_attempts[address] = self.data_attempts.get(address, 0) + 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.defer_times.get(address, 0) > 0:
            self.defer_times[address] -= 1
            return "451 4.3.0 Temporary local problem, try again later"
        if self.drop_times.get(address, 0) > 0:
            self.drop_times[address] -= 1
            server.transport.close()  # no reply: the sender cannot know if we took it
            return "421 closing"
        if self.garble_times.get(address, 0) > 0:
            self.garble_times[address] -= 1
            await super().handle_DATA(server, session, envelope)  # taken, then a garbled reply
            return "OK, and no code"
        if self.closing_times.get(address, 0) > 0:
            self.closing_times[address] -= 1
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return "421 4.3.2 Service shutting down, closing transmission channel"
        return await super().handle_DATA(server, session, envelope)

    def to(self, address: str) -> list[Any]:
        return [m for m in self.snapshot() if address in m.recipients]


@contextmanager
def running_relay() -> Iterator[tuple[ScriptedRelay, int]]:
    relay = ScriptedRelay()
    controller = start_catcher(relay)
    try:
        yield relay, controller.port
    finally:
        controller.stop()
