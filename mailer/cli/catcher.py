"""A local SMTP server that keeps every mail it receives, for the demo and for tests."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class CaughtMail:
    sender: str
    recipients: tuple[str, ...]
    data: bytes

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


class MailCatcher:
    """aiosmtpd handler that records each accepted mail."""

    def __init__(self) -> None:
        self.mails: list[CaughtMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = CaughtMail(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content))
        with self.lock:
            self.mails.append(mail)
        return "250 2.0.0 OK: queued"

    def snapshot(self) -> list[CaughtMail]:
        with self.lock:
            return list(self.mails)


def start_catcher(handler: Any, host: str = "127.0.0.1", port: int = 0) -> Controller:
    """Start an SMTP server thread on loopback; port 0 picks a free port (see .port)."""
    controller = Controller(handler, hostname=host, port=port or free_port(host),
                            ready_timeout=10, data_size_limit=10 * 1024 * 1024)
    controller.start()
    return controller


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now (aiosmtpd cannot listen on port 0 itself)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
