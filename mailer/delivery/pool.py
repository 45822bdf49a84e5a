"""Open and close the run's SMTP connections to the relay."""

from __future__ import annotations

import asyncio

import aiosmtplib

from mailer.delivery.smtp import connect
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
