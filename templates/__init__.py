"""Default templates shipped with invite: mails, RSVP pages, message catalogues, the example."""
