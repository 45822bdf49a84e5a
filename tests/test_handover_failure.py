"""A hand-over that cannot be recorded must not let the end of the message go (#8
review): the relay then discards the mail, and it is retried, never failed for good."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest

from mailer.delivery.smtp import deliver
from tests.relay import running_relay

MESSAGE = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: t\r\n\r\nHello.\r\n")


def test_a_failed_hand_over_drops_the_line_before_the_end_of_data() -> None:
    with running_relay() as (relay, port):
        async def attempt() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False,
                                     use_tls=False)
            await client.connect()
            await client.ehlo()

            def refuse() -> None:
                raise RuntimeError("database is locked")

            with pytest.raises(aiosmtplib.SMTPServerDisconnected,
                               match="the hand-over could not be recorded"):
                await deliver(client, "a@example.org", "b@example.org", MESSAGE, [],
                              on_handover=refuse)
            assert not client.is_connected

        asyncio.run(attempt())
        assert relay.to("b@example.org") == []
