"""Send test samples of a mailing to the organiser (`invite send --test-to`).

One sample per language the recipients read (or one per person named with --as), each
rendered as a real recipient and addressed to the test addresses only; an agenda as the
first person told meetings, a timetable as the first company contact, per language.
All samples are made before the relay is reached, so a template or plan error stops the
test before its first mail. It is built for the relay's 8BITMIME offer, signed with DKIM
when a key is set, and handed over by `mailer.delivery.smtp.deliver` over a connection
that encrypts and logs in as the settings say, with two differences from a real send:
it goes over the first relay only, and its envelope sender (MAIL FROM) is the From
address, never the VERP bounce address, so that a test bounce cannot mark anyone as
bounced. Nothing is written: no outbox row, no lock, no table; its links are test links
that record nothing (`mailer.content.sample`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from mailer.content.headers import check_address
from mailer.content.mailings import AGENDA, TIMETABLE, Mailing
from mailer.content.sample import SampleComposer
from mailer.delivery.dkim import Signer, load_signer
from mailer.delivery.outbox import Outbox
from mailer.delivery.pool import close_pool
from mailer.delivery.smtp import DISCONNECTS, FateUnknownError, classify, connect, deliver
from mailer.delivery.tls import with_helo
from rsvp.config import EventConfig
from rsvp.errors import InviteError, SendError, UnknownRecipientError
from rsvp.published import hosts, told_people
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


def split_addresses(values: Iterable[str]) -> Iterator[str]:
    """The addresses of repeated, comma-separated options (--test-to, --as), stripped."""
    for value in values:
        yield from (part for part in (p.strip() for p in value.split(",")) if part)


def test_addresses(values: Sequence[str]) -> list[str]:
    """The --test-to addresses, checked as the importer checks recipients (ASCII only:
    the address goes into the To header), without repeats; InviteError naming a bad one."""
    found: list[str] = []
    for part in split_addresses(values):
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


def recipients_among(store: Store, addresses: Sequence[str]) -> list[str]:
    """The test addresses that belong to someone in this workspace (they get the test
    mail like any test address, which the organiser must know)."""
    found = []
    for address in addresses:
        try:
            store.find_recipient(address)
        except UnknownRecipientError:
            continue
        found.append(address)
    return found


def choose_samples(store: Store, composer: SampleComposer, mailing: Mailing,
                   as_: Sequence[str]) -> list[Sample]:
    """The people to render samples as: those named with --as, else the first of each
    language the recipients read (in the event's order of languages); for an agenda the
    first told meetings, for a timetable the first company contact. InviteError if there
    is nobody such, or someone named has nothing of the kind to show."""
    language_of = composer.renderer.language_of
    fit = _fitting(store, mailing)
    if as_:
        samples = []
        for address in split_addresses(as_):
            try:
                person = store.find_recipient(address)
            except UnknownRecipientError:
                raise UnknownRecipientError(f"--as {address!r}: no recipient with that address "
                                            "in this workspace", hint=AS_HINT) from None
            if fit is not None and person.id not in {p.id for p in fit[0]}:
                raise InviteError(f"--as {address!r}: {fit[1]}", hint=fit[2])
            samples.append(Sample(person, language_of(person)))
        return samples
    first: dict[str, Recipient] = {}
    for person in fit[0] if fit is not None else store.recipients():
        first.setdefault(language_of(person), person)
    if not first:
        if fit is not None:
            raise InviteError(f"there is nobody to render a sample of the {mailing.kind} as: "
                              f"{fit[3]}", hint="Name one with --as EMAIL once there is.")
        raise InviteError("there are no recipients to render a sample as",
                          hint="Import the recipients first: invite import recipients.csv")
    order = composer.event.languages
    return [Sample(first[lang], lang) for lang in sorted(first, key=order.index)]


def _fitting(store: Store, mailing: Mailing) -> tuple[list[Recipient], str, str, str] | None:
    """For a plan mailing: who has one to show, why someone named has not, the hint, and
    why nobody has; None for the other mailings (everyone has one)."""
    if mailing.kind == AGENDA:
        return (told_people(store), "has no published meeting, so no agenda to show",
                "Name one with --as EMAIL: someone told their meetings.",
                "nobody has been told meetings yet")
    if mailing.kind == TIMETABLE:
        return (hosts(store), "is no company's brokerage contact, so has no timetable",
                "Name one with --as EMAIL: a company's contact (`[companies.contact]`).",
                "no company contact has been told a timetable yet")
    return None


def send_samples(settings: Settings, event: EventConfig, store: Store, mailing: Mailing,
                 addresses: Sequence[str], as_: Sequence[str] = ()) -> list[SentSample]:
    """Send each sample to each address; SendError if the relay cannot be used or refuses
    one (saying how many went out before)."""
    composer = SampleComposer(settings, event, store)
    # The round a real send would carry (an update's SEQUENCE): read only, nothing queued.
    mailing = Outbox(store).current_mailing(mailing)
    samples = choose_samples(store, composer, mailing, as_)
    # Read before connecting, as a real run does: a bad key stops it before any mail.
    signer = load_signer(settings, composer.from_address)
    # Every sample made before connecting: a render error cannot cut a test send in half.
    # Made for a relay that takes 8-bit bodies, as most do; made again for one that does not.
    composer.builder.eight_bit = True
    ready = _compose_all(composer, mailing, samples, addresses)
    # Over the first relay (of INVITE_SMTP_URL or [[relays]]): a test shows the look, and
    # a couple of mails need no spreading.
    settings = with_helo(settings, composer.from_address).for_relay(settings.relay_list()[0])
    return asyncio.run(_send(settings, composer, mailing, samples, addresses, signer, ready))


def _compose_all(composer: SampleComposer, mailing: Mailing, samples: list[Sample],
                 addresses: Sequence[str]) -> list[tuple[SentSample, bytes]]:
    """Each sample for each address, with its message as the builder makes it now."""
    ready = []
    for sample in samples:
        mail, _ = composer.render(mailing, sample.recipient)
        subject = composer.finish(mail, sample.language).subject
        for address in addresses:
            data = composer.compose(mailing, sample.recipient, to=address).data
            ready.append((SentSample(sample, address, subject), data))
    return ready


async def _send(settings: Settings, composer: SampleComposer, mailing: Mailing,
                samples: list[Sample], addresses: Sequence[str], signer: Signer | None,
                ready: list[tuple[SentSample, bytes]]) -> list[SentSample]:
    client = await connect(settings)
    sent: list[SentSample] = []
    try:
        eight_bit = client.supports_extension("8bitmime")
        if eight_bit != composer.builder.eight_bit:  # made again for what the relay takes
            composer.builder.eight_bit = eight_bit
            ready = _compose_all(composer, mailing, samples, addresses)
        for item, data in ready:
            address = item.address
            if signer is not None:
                data = signer.sign(data)
            try:
                await deliver(client, composer.from_address, address, data,
                              ["BODY=8BITMIME"] if eight_bit else [])
            except FateUnknownError as error:
                raise SendError(f"the test mail to {address} may not have arrived: {error}"
                                f"{_before(sent)}") from None
            except (aiosmtplib.SMTPException, *DISCONNECTS) as error:
                raise SendError(f"{settings.relay} did not take the test mail to "
                                f"{address}: {classify(error)[1]}{_before(sent)}") from None
            sent.append(item)
    finally:
        await close_pool([client])
    return sent


def _before(sent: list[SentSample]) -> str:
    return f" ({len(sent)} test mail{'' if len(sent) == 1 else 's'} went out before)" \
        if sent else ""
