"""The terminal side of looking before sending: `invite send --test-to` and `invite preview
--open`. Both use test links, so that what the organiser clicks records nothing."""

from __future__ import annotations

import tempfile
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from mailer.content.composer import Composer, eml_filename
from mailer.content.mailings import Mailing
from mailer.people.workspace import Workspace
from rsvp.errors import InviteError
from rsvp.files import private_folder, write_private
from rsvp.store import Recipient


def refuse_others(given: Sequence[str]) -> None:
    """InviteError if options that choose or schedule a real send come with --test-to."""
    if given:
        raise InviteError(f"--test-to sends samples only; {', '.join(given)} "
                          f"{'does' if len(given) == 1 else 'do'} not go with it",
                          hint="Choose whose mail the samples show with --as EMAIL.")


def run_test_send(ws: Workspace, mailing: Mailing, test_to: Sequence[str],
                  as_: Sequence[str], out: Console, err: Console) -> None:
    """Send the samples and say what went where."""
    from mailer.cli.preflight import check_test_send
    from mailer.delivery.samples import recipients_among, send_samples, test_addresses
    addresses = test_addresses(test_to)
    for warning in check_test_send(ws.settings):
        err.print(warning, markup=False)
    theirs = recipients_among(ws.store, addresses)
    for address in theirs:
        err.print(f"Warning: --test-to {address} is a recipient of this event: that person "
                  "gets the test mails too.", markup=False)
    sent = send_samples(ws.settings, ws.event, ws.store, mailing, addresses, as_)
    for item in sent:
        out.print(f"Sent to {item.address}: the {mailing.kind} in {item.sample.language} as "
                  f"{item.sample.recipient.email} ({item.subject})", markup=False)
    others = (f"No recipient but {', '.join(theirs)} (a test address) got a mail"
              if theirs else "No recipient got a mail")
    out.print(f"{len(sent)} test mail{'' if len(sent) == 1 else 's'}; their links show the "
              f"real pages and record nothing. {others}, the outbox is unchanged.",
              markup=False)


def open_preview(composer: Composer, mailing: Mailing, recipient: Recipient,
                 folder: Path | None, out: Console) -> None:
    """Write the HTML of the person's mail (the preview's composer makes test links) and
    open it in the default browser ($BROWSER is honoured); without a browser, say where
    the file is."""
    mail, _ = composer.render(mailing, recipient)
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="invite-preview-"))  # private (0700)
    else:
        private_folder(folder)
    path = (folder / eml_filename(mailing.key, recipient.email_ascii)).with_suffix(".html")
    write_private(path, mail.html.encode("utf-8"))
    out.print(f"Wrote {path}", markup=False)
    try:
        opened = webbrowser.open(path.resolve().as_uri())
    except webbrowser.Error:
        opened = False
    if not opened:
        out.print(f"No web browser found here: open {path} in one.", markup=False)
