"""Recipient side and shared domain of invite.

The modules here are the domain: event config, settings, the store and its schema,
signed links, answers, admission and withdrawals, nominations, batches, privacy, i18n
and the errors.
They import only each other. `rsvp.web` (the recipient's web app) sits on top of
them; nothing in `rsvp` imports `mailer`.
"""
