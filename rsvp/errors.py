"""The project's exception tree; every error says what went wrong and where.

    InviteError                  base: the CLI prints "Error: ..." and exits 1
    ├── ConfigError              event.toml or an INVITE_* setting is wrong
    ├── RecipientFileError       an import file has bad rows (holds every problem)
    ├── UnknownRecipientError    no recipient with that address in this workspace
    ├── TemplateError            a template is missing or fails for a recipient
    ├── LinkError                a signed link cannot be used
    │   └── ExpiredLinkError     ... because it is too old
    ├── SendError                sending cannot start (relay unreachable, login refused)
    ├── BusyError                another `invite send` holds the workspace
    ├── NominationOpenError      a person put forward waits for (or failed) approval
    ├── SelectionError           --batch/--where/--to/--exclude name something unknown
    ├── ScheduleError            a time for `invite send --at`, or a scheduled send, is wrong
    ├── MailboxError             the bounce mailbox cannot be read (IMAP: login, TLS, folder)
    ├── DatabaseBusyError        a web write did not get the lock in time (rsvp.web.stores)
    └── RateLimitedError         answers from one link or address come too fast (rsvp.web.ratelimit)
"""

from __future__ import annotations


class InviteError(Exception):
    """Base of every error a user can act on; `hint` says what to do next, `exit_code`
    is the command's exit status for it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(InviteError):
    """event.toml or an INVITE_* setting is missing or wrong."""


class RecipientFileError(InviteError):
    """An import file has bad rows; `problems` lists each one."""

    def __init__(self, message: str, problems: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.problems = problems


class UnknownRecipientError(InviteError):
    """The workspace has no recipient with that address."""


class TemplateError(InviteError):
    """A template is missing, broken, or uses a value a recipient lacks."""


class LinkError(InviteError):
    """A signed link is malformed, tampered with, revoked, or for another event."""


class ExpiredLinkError(LinkError):
    """A signed link is older than its allowed age."""


class SendError(InviteError):
    """Sending cannot start or go on: the relay is unreachable or refuses us."""


class BusyError(InviteError):
    """Another sender is already working on this workspace."""


class NominationOpenError(InviteError):
    """A person put forward on the web is not approved, so cannot hold a place."""


class SelectionError(InviteError):
    """A choice of recipients names a field, value, batch or address that is not there."""


class ScheduleError(InviteError):
    """A send time cannot be used, or a scheduled send cannot be changed."""


class MailboxError(InviteError):
    """The bounce mailbox cannot be reached, refuses the login, or lacks the folder."""
