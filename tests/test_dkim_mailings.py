"""Every mailing of the example event, in every language, signed and handed to a real
relay, verifies with dkimpy on the bytes the relay received (#9): invitation, reminder,
confirmation, regret, update, decisions, agenda and timetable, with their calendar
parts, 8bit and quoted-printable, RSA and Ed25519."""

from __future__ import annotations

import asyncio
import email.utils
from pathlib import Path

import aiosmtplib
import pytest

from mailer.content.mailings import MAILINGS
from mailer.delivery.dkim import load_signer, signing_domain
from mailer.delivery.smtp import deliver
from rsvp.settings import Settings
from tests.mail_samples import LANGUAGES, compose_samples
from tests.relay import running_relay
from tests.test_dkim import MUST_SIGN, SELECTOR, key_file, signed_headers, verifies


async def hand_over(port: int, mails: list[tuple[str, bytes]], eight_bit: bool) -> None:
    """Each (recipient, message) through our own `deliver`, as the sender does."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="invite.example.org")
    await client.connect()
    try:
        for recipient, data in mails:
            await deliver(client, "bounces@example.org", recipient, data,
                          ["BODY=8BITMIME"] if eight_bit else [])
    finally:
        await client.quit()


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bit", "quoted-printable"])
def test_every_mailing_of_the_example_verifies_on_the_relays_bytes(
        tmp_path: Path, kind: str, eight_bit: bool) -> None:
    samples = compose_samples(tmp_path, eight_bit)
    assert {(s.mailing, s.lang) for s in samples} == {
        (mailing, lang) for mailing in MAILINGS for lang in LANGUAGES}
    path, record = key_file(tmp_path, kind)
    from_address = email.utils.parseaddr(str(samples[0].message["From"]))[1]
    settings = Settings(workspace=tmp_path, dkim_key_file=path, dkim_selector=SELECTOR)
    signer = load_signer(settings, from_address)
    assert signer is not None
    domain = signing_domain(settings, from_address)
    with running_relay() as (relay, port):
        relay.offer_8bitmime = eight_bit
        asyncio.run(hand_over(port, [(f"{s.name}@example.org", signer.sign(s.data))
                                     for s in samples], eight_bit))
        received = relay.snapshot()
    assert len(received) == len(samples)
    calendars = 0
    for mail in received:
        name = mail.recipients[0]
        assert verifies(mail.data, record, f"{SELECTOR}._domainkey.{domain}."), name
        assert MUST_SIGN <= signed_headers(mail.data), name
        calendars += any(part.get_content_type() == "text/calendar"
                         for part in mail.parsed().walk())
    assert calendars >= 3  # confirmations, updates and agendas carry one
    # The check can fail: one changed byte in a received body breaks the signature.
    tampered = received[0].data.replace(b"\r\n\r\n", b"\r\n\r\nX", 1)
    assert not verifies(tampered, record, f"{SELECTOR}._domainkey.{domain}.")
