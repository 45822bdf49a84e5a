"""Bounces fed back (#9): reading bounce reports and auto-replies out of a mailbox and
marking the recipients they name.

`dsn` reads one message, `mailboxes` yields the messages of a Maildir or an mbox,
`imap` those of an IMAP folder (and marks them handled there), `poll` reads that folder
now and then for `invite serve`,
`intake` (the entry point: `take_in`) matches each report to its outbox row (by the VERP
id of mailer.delivery.verp, or by our Message-ID) and records it through rsvp.bounces.
May import mailer.delivery, mailer.content and rsvp; only mailer.cli imports it.
"""
