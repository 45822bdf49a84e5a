"""Open and close the run's SMTP connections to its relays."""

from __future__ import annotations

import asyncio

import aiosmtplib

from mailer.delivery.lane import Lane
from mailer.delivery.smtp import TryLaterError, connect
from rsvp.errors import SendError
from rsvp.settings import Settings

# After a stop the relay has answered every mail we wait for: a QUIT it does not answer
# at once is not worth holding up the exit for.
QUICK_QUIT = 1.0


async def open_pool(settings: Settings, size: int) -> list[aiosmtplib.SMTP]:
    """Open up to `size` connections; raise SendError only if none can be opened."""
    results = await asyncio.gather(*(connect(settings) for _ in range(size)),
                                   return_exceptions=True)
    clients = [r for r in results if isinstance(r, aiosmtplib.SMTP)]
    if not clients:
        error = next(r for r in results if isinstance(r, BaseException))
        if isinstance(error, SendError):
            raise error
        raise SendError(f"cannot reach the mail relay {settings.relay}: {error}")
    return clients


async def open_lanes(settings: Settings, wanted: list[tuple[Lane, int]]
                     ) -> tuple[list[tuple[Lane, list[aiosmtplib.SMTP]]], list[str]]:
    """Open each lane's connections (lane, how many); return the lanes reached with their
    connections, and why the others could not be (with what to do). Raise SendError only
    if no relay can be reached (TryLaterError if every one asked to try later): one relay
    down must not stop the others."""
    results = await asyncio.gather(*(open_pool(settings.for_relay(lane.relay), size)
                                     for lane, size in wanted), return_exceptions=True)
    opened = [(lane, result) for (lane, _), result in zip(wanted, results, strict=True)
              if isinstance(result, list)]
    problems = [result for result in results if isinstance(result, SendError)]
    other = next((result for result in results if isinstance(result, BaseException)
                  and not isinstance(result, SendError)), None)
    if other is not None:  # e.g. cancelled: none of the connections is wanted
        for _, clients in opened:
            await close_pool(clients, quick=True)
        raise other
    if not opened:
        if len(problems) == 1:
            raise problems[0]
        kind = TryLaterError if all(isinstance(p, TryLaterError) for p in problems) \
            else SendError
        raise kind("no relay can be reached: " + "; ".join(p.message for p in problems),
                   hint=" ".join(dict.fromkeys(p.hint for p in problems if p.hint)) or None)
    return opened, [problem.message + (f" ({problem.hint})" if problem.hint else "")
                    for problem in problems]


async def close_pool(clients: list[aiosmtplib.SMTP], polite: bool = True,
                     quick: bool = False) -> None:
    """Say QUIT on each open connection, all at once (waiting at most QUICK_QUIT for the
    replies when `quick`); just drop them when not `polite` (a run stopped at once, whose
    connections may be mid-transaction)."""
    connected = [client for client in clients if client.is_connected]
    if polite:
        await asyncio.gather(*(_quit(client, quick) for client in connected))
    for client in connected:
        if client.is_connected:
            client.close()


async def _quit(client: aiosmtplib.SMTP, quick: bool) -> None:
    try:
        if quick:
            await client.quit(timeout=QUICK_QUIT)
        else:
            await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()
