"""Getting mail to the relay exactly once: the outbox and who is due for which mailing,
the organiser's choice of recipients (selection) and sends kept for a set time
(schedule), sending again on purpose (resend), the sender and its pacing, its relays' lanes (pace, daily cap, throttling) and
the mails going back to the queue, the SMTP exchange, the send lock and the
background sender of `invite serve`. Imports `mailer.content` and the domain (`rsvp`),
nothing above.
"""
