"""Bounces fed back (#9): reading bounce mailboxes and recording what they say.

May import `mailer.delivery`, `mailer.content` and `rsvp`; only `mailer.cli` imports it.
"""
