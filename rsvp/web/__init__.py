"""The recipient's web app: the RSVP form, its JSON twin, unsubscribe and plain error pages.

It imports the domain modules of `rsvp` (config, settings, store, tokens, answers,
admission, nominations, i18n, errors); the domain never imports it, nor does it import
`mailer`.
"""
