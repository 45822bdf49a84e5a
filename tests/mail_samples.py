"""Every mailing the example workspace can produce, in each language, composed for a real person.

The shipped example event (`invite init`) with three recipients (de, fr, en) who said
yes and want brokerage meetings, a stored and published meeting plan, and a brokerage
contact in each language for three of the companies, so that the hosts' timetables
exist too. Each sample is the message exactly as the sender hands it to the relay
(`Composer.compose`), CSS inlined. Used by the mail tests (fit, links, spam score) and
by `bench/mail_fit.py` and `bench/spam_scores.py`.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from mailer.content.composer import Composer
from mailer.content.mailings import MAILINGS, Mailing
from mailer.delivery.publication import publish_round
from mailer.people.workspace import init_workspace
from rsvp.config import load_event
from rsvp.meetings import Placement, save_plan
from rsvp.settings import load_settings
from rsvp.store import NewRecipient, Store, open_store

SECRET_KEY = "test-secret-key-0123456789abcdef"
BASE_URL = "https://rsvp.example.org"
LANGUAGES = ("de", "fr", "en")
# One invitee per language, with the longest realistic names and organisations.
PEOPLE = {
    "de": ("sabine.schaefer@ikt-netz.example.org",
           {"salutation": "Frau", "title": "Prof. Dr.", "first_name": "Sabine",
            "last_name": "Schäfer", "organisation": "IKT-Netzwerk Rhein-Main"}),
    "fr": ("helene.lefevre@oberrhein.example.net",
           {"salutation": "Mme", "title": "Dr.", "first_name": "Hélène", "last_name": "Lefèvre",
            "organisation": "Kompetenznetz Mechatronik Oberrhein"}),
    "en": ("john.smith@example.org",
           {"salutation": "Mr", "first_name": "John", "last_name": "Smith",
            "organisation": "ICT Cluster Scotland"}),
}
# A brokerage contact per language, so that a host's timetable exists in each.
CONTACTS = {"cilas": ("Claire Martin", "claire.martin@cilas.example", "fr"),
            "kreon": ("Klaus Becker", "klaus.becker@kreon.example", "de"),
            "leukos": ("Laura Brown", "laura.brown@leukos.example", "en")}
WANTED = ["cilas", "kreon", "leukos"]


@dataclass(frozen=True)
class Sample:
    """One mailing in one language: the bytes the relay would receive."""

    mailing: str
    lang: str
    data: bytes

    @property
    def name(self) -> str:
        return f"{self.mailing}-{self.lang}"

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        """The decoded text of the text/`subtype` body part."""
        body = self.message.get_body((subtype,))
        assert body is not None, f"{self.name} has no text/{subtype} part"
        return str(body.get_content())


def _add_contacts(event_file: Path) -> None:
    """Give three example companies a brokerage contact (the example has none)."""
    text = event_file.read_text(encoding="utf-8")
    for company, (name, address, lang) in CONTACTS.items():
        anchor = f'id = "{company}"\n'
        assert anchor in text, f"the example event has no company {company!r}"
        contact = f'contact = {{ name = "{name}", email = "{address}", language = "{lang}" }}\n'
        text = text.replace(anchor, anchor + contact, 1)
    event_file.write_text(text, encoding="utf-8")


def _plan(store: Store, slots: list[tuple[int, str]], event_file: Path) -> None:
    """Store a plan: each invitee meets each wanted company in its own slot, at its table."""
    event = load_event(event_file)
    assert event.brokerage is not None
    times = event.brokerage.slots()
    tables = {c.id: c.table for c in event.companies}
    placements = []
    for offset, (recipient_id, _) in enumerate(slots):
        for number, company in enumerate(WANTED):
            slot = times[(offset + number * len(slots)) % len(times)]
            placements.append(Placement(recipient_id, company, slot.start, slot.end,
                                        tables[company] or 1))
    save_plan(store, placements)


@contextmanager
def example_composer(folder: Path) -> Iterator[tuple[Composer, Store]]:
    """The example workspace under `folder`, set up so that every mailing can be made."""
    workspace = init_workspace(folder / "limoges", today=date(2027, 1, 4))
    _add_contacts(workspace / "event.toml")
    settings = load_settings(workspace, {"INVITE_SECRET_KEY": SECRET_KEY,
                                         "INVITE_BASE_URL": BASE_URL})
    store = open_store(settings.database)
    try:
        store.add_recipients([
            NewRecipient(email=address, email_ascii=address,
                         fields={"language": lang, "role": "network_manager",
                                 "sector": "production", **fields}, extra={})
            for lang, (address, fields) in PEOPLE.items()])
        invitees = []
        for lang, (address, _) in PEOPLE.items():
            recipient_id = store.find_recipient(address).id
            store.record_answer(recipient_id, "yes",
                                {"parts": ["visits", "symposium", "brokerage"],
                                 "meet": WANTED}, "web")
            invitees.append((recipient_id, lang))
        _plan(store, invitees, settings.event_file)
        event = load_event(settings.event_file)
        published = publish_round(store, event)
        assert published is not None, "the plan was not published"
        yield Composer(settings, event, store), store
    finally:
        store.close()


def compose_samples(folder: Path, eight_bit: bool = True) -> list[Sample]:
    """Every mailing kind in every language, as composed for a real recipient: with
    `eight_bit` as for a relay that offers 8BITMIME (most do), else quoted-printable."""
    samples = []
    with example_composer(folder) as (composer, store):
        composer.builder.eight_bit = eight_bit
        hosts = {lang: store.find_recipient(address)
                 for _, address, lang in CONTACTS.values()}
        for kind in MAILINGS:
            mailing = Mailing(kind, 1) if kind in ("update", "agenda", "timetable") else Mailing(kind)
            for lang in LANGUAGES:
                who = hosts[lang] if kind == "timetable" else store.find_recipient(PEOPLE[lang][0])
                ready = composer.compose(mailing, who)
                samples.append(Sample(kind, lang, ready.data))
    return samples
