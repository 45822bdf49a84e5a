"""Organiser side of invite, in layers that import only downwards:

    cli        the `invite` commands, serve, demo        may import everything below
    reports    status, exports, the workbook             content, delivery, the domain
    delivery   outbox, sender, SMTP, background sender   content, the domain
    people     import, workspace                         content, the domain
    content    mailings, rendering, message bytes        the domain (`rsvp`) only

`rsvp` (the domain and the recipient's web app) never imports `mailer`.
"""
