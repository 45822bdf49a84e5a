"""The terminal side of choosing who gets a mailing: the choice from the options
`invite send` and `invite preview` share (mailer.cli.common declares them), the list of
who would get it (`--list`), the few words on batches and roles in the question before
a send, and recording a send for later (`--at`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from mailer.delivery.exclusions import addresses_in, match_exclusions
from mailer.delivery.jobs import SendOptions
from mailer.delivery.outbox import Outbox
from mailer.delivery.schedule import Schedule, parse_send_time, show_time
from mailer.delivery.scheduled_run import to_send
from mailer.delivery.selection import Selection, choose
from mailer.people.workspace import Workspace
from rsvp.batches import NO_BATCH, batches_by_id
from rsvp.errors import ScheduleError
from rsvp.store import Recipient, Store

NO_ROLE = "(no role)"


def selection_from(ws: Workspace, batch: list[str] | None, where: list[str] | None,
                   to: list[str] | None, exclude: list[str] | None,
                   exclude_file: Path | None, err: Console | None = None) -> Selection:
    """The organiser's choice, checked against the workspace; `err` is told how many
    addresses of the exclusion file name nobody here."""
    listed = None
    if exclude_file is not None:
        from mailer.people.decode import decode_text
        from rsvp.errors import RecipientFileError
        try:
            data = exclude_file.read_bytes()
        except OSError as error:
            raise RecipientFileError(f"{exclude_file} cannot be read ({error.strerror})",
                                     problems=[]) from None
        listed = match_exclusions(ws.store, addresses_in(decode_text(exclude_file.name, data)),
                                  ws.settings.secret_keys)
        if listed.unmatched and err is not None:
            one = listed.unmatched == 1
            err.print(f"Note: {listed.unmatched} {'address' if one else 'addresses'} in "
                      f"{exclude_file.name} {'is' if one else 'are'} not in this workspace "
                      f"and {'excludes' if one else 'exclude'} nobody now.", markup=False)
    return choose(ws.store, ws.event, batch, where, to, exclude, listed)


def breakdown(store: Store, people: Iterable[Recipient]) -> str:
    """' (batches: companies 2, networks 1; roles: company 2, network_manager 1)'."""
    batches = batches_by_id(store)
    by_batch: Counter[str] = Counter()
    by_role: Counter[str] = Counter()
    for person in people:
        by_batch[batches.get(person.id) or NO_BATCH] += 1
        by_role[person.role or NO_ROLE] += 1

    def counts(counter: Counter[str]) -> str:
        return ", ".join(f"{name} {count}" for name, count in sorted(counter.items()))

    # A workspace without batches (or roles) is not told about them on every send.
    parts = [f"{label}: {counts(counter)}" for label, counter, none in
             (("batches", by_batch, NO_BATCH), ("roles", by_role, NO_ROLE))
             if set(counter) - {none}]
    return f" ({'; '.join(parts)})" if parts else ""


def list_recipients(ws: Workspace, options: SendOptions, selection: Selection,
                    out: Console) -> None:
    """Print who a send of `options` to `selection` would mail now; send nothing."""
    outbox = Outbox(ws.store, selection)
    options = replace(options, mailing=outbox.current_mailing(options.mailing,
                                                              options.resend_unknown))
    people = list(to_send(outbox, options))
    batches = batches_by_id(ws.store)
    rows = [(person.full_name, person.email, person.organisation, person.role,
             person.language, batches.get(person.id) or NO_BATCH) for person in people]
    header = ("name", "email", "organisation", "role", "language", "batch")
    if rows:
        for line in plain_table(header, rows):
            out.print(line, markup=False)
    count = len(rows)
    out.print(f"{persons(count)} would get the "
              f"{options.mailing.kind} ({selection.describe()}); nothing was sent.",
              markup=False)


def schedule_send(ws: Workspace, options: SendOptions, selection: Selection, at: str,
                  out: Console, confirm: Callable[[str], bool] | None) -> None:
    """Record a send of `options` to `selection` for the time `at`, after rendering every
    mail it would send now: a template error shows today, not at the time of the send."""
    from mailer.content.composer import Composer
    if options.limit is not None or options.resend_unknown:
        raise ScheduleError("--at sends a whole selection; it does not take --limit or "
                            "--resend-unknown",
                            hint="Choose who with --batch, --where or --to; spread the mails "
                                 "with --rate.")
    when = parse_send_time(at, ws.event.zone)
    outbox = Outbox(ws.store, selection)
    mailing = outbox.current_mailing(options.mailing)
    people = list(to_send(outbox, replace(options, mailing=mailing)))
    Composer(ws.settings, ws.event, ws.store).check_all(mailing, people)
    shown = show_time(when, ws.event.zone)
    question = (f"Schedule {mailing.plural} for {shown}, to {persons(len(people))} as of "
                f"now{breakdown(ws.store, people)}?")
    if confirm is not None and not confirm(question):
        out.print("Nothing scheduled.")
        return
    send = Schedule(ws.store).add(options.mailing, selection, when, options.rate_per_minute)
    out.print(f"Scheduled send {send.id}: {mailing.plural} ({selection.describe()}) at "
              f"{shown}; {persons(len(people))} would get it now.", markup=False)
    out.print("It goes out from `invite serve` (with INVITE_BASE_URL set) at that time; if "
              "nothing runs then, from the next `invite serve` or `invite send`. "
              f"`invite schedule` lists it, `invite schedule --cancel {send.id}` cancels it.",
              markup=False)


def persons(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"


def plain_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Lines of left-aligned columns, never wrapped, so that a long list reads (and
    greps) one person a line at any terminal width."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()

    return [line(header), line(tuple("-" * width for width in widths)),
            *(line(row) for row in rows)]
