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


class Opening:
    """Opens every lane's connections at once (lane, how many) and hands over each lane
    as soon as it is reached, so that a relay that never greets holds up no other.
    `problems` gathers why the others could not be reached (with what to do)."""

    def __init__(self, settings: Settings, wanted: list[tuple[Lane, int]]) -> None:
        self._lanes: dict[asyncio.Future[list[aiosmtplib.SMTP]], Lane] = {
            asyncio.ensure_future(open_pool(settings.for_relay(lane.relay), size)): lane
            for lane, size in wanted}
        self._pending: set[asyncio.Future[list[aiosmtplib.SMTP]]] = set(self._lanes)
        self.problems: list[SendError] = []
        self._reached: list[tuple[Lane, list[aiosmtplib.SMTP]]] = []  # not handed over yet

    async def first(self) -> list[tuple[Lane, list[aiosmtplib.SMTP]]]:
        """Wait until a lane is reached; return every lane reached by then. Raise
        SendError only if no relay can be reached (TryLaterError if every one asked to
        try later): one relay down must not stop the others."""
        opened: list[tuple[Lane, list[aiosmtplib.SMTP]]] = []
        try:
            while self._pending and not opened:
                done, _ = await asyncio.wait(self._pending,
                                             return_when=asyncio.FIRST_COMPLETED)
                opened += [lane for task in done if (lane := self._take(task))]
        except BaseException:  # e.g. cancelled: none of the connections is wanted
            for _, clients in opened:
                await close_pool(clients, quick=True)
            await self.close()
            raise
        if not opened:
            problems = self.problems
            if len(problems) == 1:
                raise problems[0]
            kind = TryLaterError if all(isinstance(p, TryLaterError) for p in problems) \
                else SendError
            raise kind("no relay can be reached: " + "; ".join(p.message for p in problems),
                       hint=" ".join(dict.fromkeys(p.hint for p in problems if p.hint))
                       or None)
        return opened

    @property
    def waiting(self) -> bool:
        """Whether some lane is still connecting."""
        return bool(self._pending)

    async def next(self) -> tuple[Lane, list[aiosmtplib.SMTP]] | None:
        """The next lane reached; None once every lane was reached or given up."""
        while not self._reached and self._pending:
            done, _ = await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
            self._reached += [lane for task in done if (lane := self._take(task))]
        return self._reached.pop(0) if self._reached else None

    def notes(self) -> list[str]:
        """Why each relay not reached is out (with what to do), for the report."""
        still = [f"the mail relay {self._lanes[task].name} had not greeted when the run "
                 "ended" for task in self._pending]
        return [problem.message + (f" ({problem.hint})" if problem.hint else "")
                for problem in self.problems] + still

    async def close(self) -> None:
        """Give up the lanes not reached yet, closing any connection opened meanwhile."""
        pending = list(self._pending)
        for task in pending:
            task.cancel()
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, list):
                await close_pool(result, quick=True)
        for _, clients in self._reached:
            await close_pool(clients, quick=True)
        self._reached = []

    def _take(self, task: asyncio.Future[list[aiosmtplib.SMTP]]
              ) -> tuple[Lane, list[aiosmtplib.SMTP]] | None:
        self._pending.discard(task)
        if task.cancelled():
            return None
        error = task.exception()
        if isinstance(error, SendError):
            self.problems.append(error)
            return None
        if error is not None:
            raise error
        return self._lanes[task], task.result()


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
