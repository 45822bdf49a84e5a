"""Turn a recipient into a ready message for a mailing: links signed, parts rendered, bytes built."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailer.content.calendar import CalendarMaker
from mailer.content.compose import MessageBuilder, parse_sender, reply_name, reply_person
from mailer.content.list_headers import ListIdentity
from mailer.content.mailings import Mailing
from mailer.content.render import Links, MailRenderer, RenderedMail, SenderView
from rsvp.config import EventConfig
from rsvp.errors import InviteError
from rsvp.nomination_review import nominator_of
from rsvp.settings import Settings
from rsvp.store import Recipient, Store
from rsvp.tokens import ANSWER, UNSUBSCRIBE, LinkSigner

if TYPE_CHECKING:
    from mailer.content.plan_view import PlanMail, PlanViews

# Mailings whose wording depends on what the person answered (`answer`, `applied`).
ANSWER_AWARE = ("reminder", "confirmation", "waitlist", "regret", "update", "withdrawal")
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9@._+-]")


def eml_filename(stem: str, address: str) -> str:
    """`stem-address.eml`, with whatever a file system could misread (`/`, `\\`, `:`,
    quotes, ...) in the address replaced, so each message lands in the folder asked for."""
    return f"{stem}-{_UNSAFE_IN_FILENAME.sub('_', address)}.eml"


def header_name(recipient: Recipient) -> str:
    """The name for the To header: none for a person put forward on the web, whose name a
    stranger typed; no free text of theirs ever goes into a header."""
    return "" if recipient.nominated_by is not None else recipient.full_name


@dataclass(frozen=True)
class ReadyMessage:
    recipient: Recipient
    message_id: str
    data: bytes


class Composer:
    """Everything common to a mailing is prepared once here; `compose` adds the person."""

    def __init__(self, settings: Settings, event: EventConfig, store: Store,
                 test_links: bool = False) -> None:
        """With `test_links` the links are test links (`rsvp.tokens`), which show the real
        pages and record nothing: for previews and samples, which are for looking."""
        name, address, reply_to = parse_sender(event.sender, str(event.path))
        self.settings = settings
        self.store = store
        self.event = event
        self.event_id = event_id = store.event_id
        self.from_address = address
        self.signer = signer = LinkSigner(settings.secret_keys)
        self.sign = signer.sign_test if test_links else signer.sign
        self.renderer = MailRenderer(
            event, SenderView(name=name, email=address, reply_to=reply_to or address,
                              organiser=event.sender.organiser, phone=event.sender.phone),
            settings.template_dir,
            nominators=lambda nominator_id: nominator_of(store, nominator_id))
        self.builder = MessageBuilder(
            name, address, reply_to, reply_to_name=reply_name(event.sender),
            listing=ListIdentity.of(event.text(event.title, event.default_language), event_id))
        self.calendar = CalendarMaker(event, event_id,
                                      *reply_person(event.sender, name, address, reply_to),
                                      uid_domain=self.builder.domain)
        self._plans: PlanViews | None = None

    def links(self, recipient: Recipient) -> Links:
        base, sign = self.settings.base_url, self.sign
        answer = sign(ANSWER, recipient.id, self.event_id, recipient.token_version)
        leave = sign(UNSUBSCRIBE, recipient.id, self.event_id, recipient.token_version)
        return Links(answer=f"{base}/r/{answer}", unsubscribe=f"{base}/u/{leave}")

    def render(self, mailing: Mailing | str, recipient: Recipient) -> tuple[RenderedMail, Links]:
        """Render `mailing` (or its outbox key, such as 'update-2') for one person."""
        links = self.links(recipient)
        mailing = Mailing.of(mailing)
        plan = self._plan(mailing, recipient)
        return self.renderer.render(mailing.kind, recipient, links,
                                    self._context(mailing, recipient, plan)), links

    def _context(self, mailing: Mailing, recipient: Recipient,
                 plan: PlanMail | None) -> dict[str, Any]:
        """What only some mailings know: an agenda's meetings, and for the reminder and the
        decision mailings what the person said (`answer`: yes, no, maybe or None; `applied`:
        they said yes), so that a regret does not thank someone "for your yes" they never
        gave. Looked up per mail only for those mailings: invitations skip the query."""
        context: dict[str, Any] = dict(plan.context) if plan else {}
        if mailing.kind in ANSWER_AWARE:
            response = self.store.response(recipient.id)
            answer = response.attendance if response else None
            context.update(answer=answer, applied=answer == "yes")
        return context

    def _plan(self, mailing: Mailing, recipient: Recipient) -> PlanMail | None:
        """An agenda's or timetable's meetings and calendar file; None for other mailings."""
        if not mailing.tells_plan:
            return None
        if self._plans is None:
            # Loaded on first use: most runs never mail a plan, and sending starts faster.
            from mailer.content.plan_view import PlanViews
            self._plans = PlanViews(self.event, self.store, self.calendar)
        return self._plans.mail(mailing, recipient, self.renderer.language_of(recipient))

    def compose(self, mailing: Mailing | str, recipient: Recipient,
                message_id: str | None = None, to: str | None = None) -> ReadyMessage:
        """The message of `mailing` for `recipient`; with `to`, addressed there instead (a
        sample, see mailer.content.sample)."""
        mailing = Mailing.of(mailing)
        links = self.links(recipient)
        plan = self._plan(mailing, recipient)
        lang = self.renderer.language_of(recipient)
        mail = self.finish(self.renderer.render(mailing.kind, recipient, links,
                                                self._context(mailing, recipient, plan)), lang)
        message_id = message_id or self.builder.message_id()
        calendar = (self.calendar.build(recipient.id, lang, mailing.sequence)
                    if mailing.carries_calendar else plan.calendar if plan else None)
        name, address = ("", to) if to else (header_name(recipient), recipient.email_ascii)
        data = self.builder.build(mail, name, address, message_id, links.unsubscribe, lang,
                                  calendar=calendar)
        return ReadyMessage(recipient=recipient, message_id=message_id, data=data)

    def finish(self, mail: RenderedMail, lang: str) -> RenderedMail:
        """The rendered mail as it goes out (a sample marks its subject)."""
        return mail

    def check_all(self, mailing: Mailing | str, recipients: Iterable[Recipient]) -> int:
        """Render every message once and check what goes into its headers, keeping
        nothing, so one bad template or address stops the whole mailing before the
        first mail goes out."""
        count = 0
        mailing = Mailing.of(mailing)
        # Links are plain strings whatever their value: signing them is not needed here.
        links = Links(answer=f"{self.settings.base_url}/r/check",
                      unsubscribe=f"{self.settings.base_url}/u/check")
        for recipient in recipients:
            plan = self._plan(mailing, recipient)
            mail = self.renderer.render(mailing.kind, recipient, links,
                                        self._context(mailing, recipient, plan))
            try:
                self.builder.check(mail, header_name(recipient), recipient.email_ascii)
                if mailing.carries_calendar:
                    self.calendar.build(recipient.id, self.renderer.language_of(recipient),
                                        mailing.sequence)
            except ValueError as error:
                raise InviteError(
                    f"cannot make the {mailing.kind} for {recipient.email}: {error}",
                    hint="Correct that recipient's address or name in the recipients file, "
                         "import it again, then send.") from None
            count += 1
        return count
