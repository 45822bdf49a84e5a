"""What a mail says and how its bytes look: the mailings as values, template rendering,
CSS inlining, shared blocks, the calendar file and the finished message.

Building a message needs no relay, so it lives here rather than in `delivery`. Imports
only the domain (`rsvp`, not `rsvp.web`) and the other modules of this package.
"""
