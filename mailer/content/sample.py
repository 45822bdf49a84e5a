"""Make a person's mail as a sample for the organiser: test links, a marked subject.

A sample is the real message (same templates, same builder, same DKIM and relay path
in `mailer.delivery.samples`) with two differences that keep it harmless: its links
are test links (`rsvp.tokens`), which show the real pages and record nothing, and its
subject carries the test marker of the mail's language from the message catalogue.
"""

from __future__ import annotations

from dataclasses import replace

from mailer.content.composer import Composer
from mailer.content.render import RenderedMail
from rsvp.config import EventConfig
from rsvp.i18n import catalogue
from rsvp.settings import Settings
from rsvp.store import Store


class SampleComposer(Composer):
    """A Composer whose links record nothing and whose subjects say "test"."""

    def __init__(self, settings: Settings, event: EventConfig, store: Store) -> None:
        super().__init__(settings, event, store, test_links=True)

    def finish(self, mail: RenderedMail, lang: str) -> RenderedMail:
        return replace(mail, subject=marked_subject(mail.subject, lang))


def marked_subject(subject: str, lang: str) -> str:
    """The subject with the test marker of `lang` (e.g. "[TEST] ...", "[ESSAI] ...")."""
    return catalogue(lang).t("mail.test_subject", subject=subject)
