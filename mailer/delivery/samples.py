"""Send test samples of a mailing to the organiser (`invite send --test-to`).

One sample per language the recipients read (or one per person named with --as), each
rendered as a real recipient and addressed to the test addresses only. It goes the way
a real mail goes: built for the relay's 8BITMIME offer, signed with DKIM when a key is
set, handed over by `mailer.delivery.smtp.deliver` over a connection that encrypts and
logs in as the settings say. Nothing is written: no outbox row, no lock, no table; its
links are test links that record nothing (`mailer.content.sample`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from mailer.content.headers import check_address
from mailer.content.mailings import Mailing
from mailer.content.sample import SampleComposer
from mailer.delivery.dkim import Signer, load_signer
from mailer.delivery.pool import close_pool
from mailer.delivery.smtp import DISCONNECTS, FateUnknownError, classify, connect, deliver
from mailer.delivery.tls import with_helo
from rsvp.config import EventConfig
from rsvp.errors import InviteError, SendError, UnknownRecipientError
from rsvp.settings import Settings
from rsvp.store import Recipient, Store

# Enough for the organiser and a few colleagues checking different mail programs; a
# longer list is more likely a mix-up with the recipients file than a test.
MAX_TEST_ADDRESSES = 10
AS_HINT = "`invite export --what recipients` lists everyone; --as takes one of them."


@dataclass(frozen=True)
class Sample:
    """One sample to send: the person it is rendered as, in their mail's language."""

    recipient: Recipient
    language: str


@dataclass(frozen=True)
class SentSample:
    sample: Sample
    address: str
    subject: str


def test_addresses(values: Sequence[str]) -> list[str]:
    """The --test-to addresses, checked as the importer checks recipients (ASCII only:
    the address goes into the To header), without repeats; InviteError naming a bad one."""
    found: list[str] = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                valid = validate_email(part, check_deliverability=False, allow_smtputf8=False)
                address = check_address(valid.ascii_email or valid.normalized)
            except (EmailNotValidError, ValueError) as error:
                raise InviteError(f"--test-to {part!r} is not an email address ({error})",
                                  hint="Give your own address: --test-to me@example.org") from None
            if address.casefold() not in (a.casefold() for a in found):
                found.append(address)
    if not found:
        raise InviteError("--test-to needs an address", hint="E.g. --test-to me@example.org")
    if len(found) > MAX_TEST_ADDRESSES:
        raise InviteError(f"--test-to names {len(found)} addresses; a test goes to at most "
                          f"{MAX_TEST_ADDRESSES}", hint="A real send is `invite send` "
                          "without --test-to.")
    return found


def choose_samples(store: Store, composer: SampleComposer, as_: Sequence[str]) -> list[Sample]:
    """The people to render samples as: those named with --as, else the first recipient of
    each language the recipients read (in the event's order of languages)."""
    language_of = composer.renderer.language_of
    if as_:
        samples = []
        for address in (a.strip() for value in as_ for a in value.split(",") if a.strip()):
            try:
                person = store.find_recipient(address)
            except UnknownRecipientError:
                raise UnknownRecipientError(f"--as {address!r}: no recipient with that address "
                                            "in this workspace", hint=AS_HINT) from None
            samples.append(Sample(person, language_of(person)))
        return samples
    first: dict[str, Recipient] = {}
    for person in store.recipients():
        first.setdefault(language_of(person), person)
    if not first:
        raise InviteError("there are no recipients to render a sample as",
                          hint="Import the recipients first: invite import recipients.csv")
    order = composer.event.languages
    return [Sample(first[lang], lang) for lang in sorted(first, key=order.index)]


def send_samples(settings: Settings, event: EventConfig, store: Store, mailing: Mailing,
                 addresses: Sequence[str], as_: Sequence[str] = ()) -> list[SentSample]:
    """Send each sample to each address; SendError if the relay cannot be used or refuses
    one (saying how many went out before)."""
    composer = SampleComposer(settings, event, store)
    samples = choose_samples(store, composer, as_)
    # Read before connecting, as a real run does: a bad key stops it before any mail.
    signer = load_signer(settings, composer.from_address)
    # Over the first relay (of INVITE_SMTP_URL or [[relays]]): a test shows the look, and
    # a couple of mails need no spreading.
    settings = with_helo(settings, composer.from_address).for_relay(settings.relay_list()[0])
    return asyncio.run(_send(settings, composer, mailing, samples, addresses, signer))


async def _send(settings: Settings, composer: SampleComposer, mailing: Mailing,
                samples: list[Sample], addresses: Sequence[str],
                signer: Signer | None) -> list[SentSample]:
    client = await connect(settings)
    sent: list[SentSample] = []
    try:
        eight_bit = composer.builder.eight_bit = client.supports_extension("8bitmime")
        for sample in samples:
            mail, _ = composer.render(mailing, sample.recipient)
            subject = composer.finish(mail, sample.language).subject
            for address in addresses:
                ready = composer.compose(mailing, sample.recipient, to=address)
                data = signer.sign(ready.data) if signer is not None else ready.data
                try:
                    await deliver(client, composer.from_address, address, data,
                                  ["BODY=8BITMIME"] if eight_bit else [])
                except FateUnknownError as error:
                    raise SendError(f"the test mail to {address} may not have arrived: {error}"
                                    f"{_before(sent)}") from None
                except (aiosmtplib.SMTPException, *DISCONNECTS) as error:
                    raise SendError(f"{settings.relay} did not take the test mail to "
                                    f"{address}: {classify(error)[1]}{_before(sent)}") from None
                sent.append(SentSample(sample, address, subject))
    finally:
        await close_pool([client])
    return sent


def _before(sent: list[SentSample]) -> str:
    return f" ({len(sent)} test mail{'' if len(sent) == 1 else 's'} went out before)" \
        if sent else ""
