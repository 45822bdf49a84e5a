"""The recipient's web app: the RSVP form, its JSON twin, unsubscribe and plain error pages,
with its database work in threads off the event loop.

It imports the domain modules of `rsvp` (config, settings, store, schema, tokens, answers,
admission, nominations, i18n, errors); the domain never imports it, nor does it import
`mailer`.
"""
