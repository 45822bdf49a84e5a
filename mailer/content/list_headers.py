"""Say that a mail is one of a mailing (List-Id) and keep out-of-office replies away.

What we add, and what we leave out on purpose:

- `List-Id: "Event title" <event-slug-1a2b3c4d5e6f.example.org>` (RFC 2919), so that
  filters and receivers can tell one event's mails from the organiser's other mail. The
  label is the title's slug plus the workspace's random event id (unique, and stable
  for the life of the event, as RFC 2919 asks), under the From domain. The phrase is the
  title, flattened and quoted or encoded like a display name: nothing in it can end the
  header. Gmail and Sieve vacation responders (RFC 5230 4.6) already send no
  out-of-office reply to a message with List-Id or List-Unsubscribe.
- `X-Auto-Response-Suppress: OOF, AutoReply`: Exchange and Outlook ignore List-*
  headers, but honour this one ([MS-OXCMAIL] 2.1.3.2.20) and skip their out-of-office
  reply and rule-based auto-replies. Not `All`, which would also suppress Exchange's
  non-delivery reports (NDR, DR): bounces must still come back, so that a dead address
  gets no reminder.
- No `Precedence: bulk`: a non-standard header (RFC 2076: "discouraged"; RFC 3834
  recommends nothing for it) that Google Groups has been reported to drop mail for;
  Mailchimp, Amazon SES and ActiveCampaign do not set it. With List-Id and
  List-Unsubscribe it would also earn SpamAssassin's MAILING_LIST_MULTI bonus: a lower
  score from a header rather than from the mail, a trick we do not want.
- No `Auto-Submitted: auto-generated`: RFC 3834 reserves it for mail made by a process
  rather than a person, and receivers act on it: ticket systems, list servers and
  role-address handlers (an invitation often goes to office@ or info@) discard or
  ignore auto-submitted mail to avoid loops. An invitation is a letter a person wrote
  and wants a human answer to.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from mailer.content.headers import folded, phrase_pieces

AUTO_REPLY_SUPPRESS = "X-Auto-Response-Suppress: OOF, AutoReply"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG = 40  # label = slug + "-" + 12 hex digits: at most 53, under DNS's 63 per label


def slug(title: str) -> str:
    """`Réunion d'été 2030` -> `reunion-d-ete-2030`: ASCII letters, digits and hyphens,
    cut at a hyphen to at most _SLUG characters; `event` if nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(text) > _SLUG:
        cut = text.rfind("-", 0, _SLUG + 1)
        text = text[:cut if cut > 0 else _SLUG].strip("-")
    return text or "event"


@dataclass(frozen=True)
class ListIdentity:
    """What names one event's mails as a list: its title and a stable unique label."""

    title: str
    label: str

    @classmethod
    def of(cls, title: str, event_id: str) -> ListIdentity:
        event_key = _NOT_SLUG.sub("", event_id.lower())[:12] or "0"
        return cls(title=title, label=f"{slug(title)}-{event_key}")

    def list_id(self, domain: str) -> str:
        """The folded `List-Id` header for mail from `domain` (a checked host name)."""
        return folded("List-Id", [*phrase_pieces(self.title, "List-Id"),
                                  f"<{self.label}.{domain.lower()}>"])
