"""Make the DKIM signatures of a send run in a child process, beside the event loop.

Signing a 23 KB invitation costs 0.2 ms (Ed25519) to 0.55 ms (RSA 2048) of CPU (see
mailer.delivery.dkim_sign), next to about 1 ms for all the rest of a send; and
cryptography 50 holds the GIL while it signs (two threads signing RSA used 1.0 core,
measured), so a thread would not take that off the sender's core. A child process does:
the feeder sends it a batch, composes the next while the child signs, and only then
collects the signatures; the sender's own cost falls to 0.07-0.1 ms per mail. Where
the machine has a single core this gains nothing, and the feeder signs in its own
process (`beside`), as it does while the child starts (about 0.1 s).

The child is `python -m mailer.delivery.dkim_process`. It gets the key through its stdin
(never its argv, which `ps` shows) and answers each message with its DKIM-Signature
field, in order. Each message and answer is a frame: a 4-byte length, then the bytes.
An answer starting with "!" is the error the child met; a child that ends early ends the
run with a SendError (rows not yet handed to the workers were never claimed).
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import tempfile
from typing import IO, BinaryIO

from mailer.delivery.dkim_sign import Signer
from rsvp.errors import SendError

_LENGTH = struct.Struct(">I")
_FAILED = b"!"
_READY = b"ready"
CLOSE_SECONDS = 5.0


def frame(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def beside() -> bool:
    """Whether a second core can take the signing off the sender's."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores > 1


class SigningProcess:
    """The child that signs one run's messages, and the pipes to it."""

    def __init__(self, process: asyncio.subprocess.Process, errors: IO[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._process = process
        self._errors = errors  # the child's stderr: a file, so it can never block the child
        self._to = process.stdin
        self._from = process.stdout

    @classmethod
    async def start(cls, signer: Signer) -> SigningProcess:
        """Start the child and wait until it has read the key (about 0.1 s)."""
        errors = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the child
        try:
            # A session of its own: Ctrl-C in the terminal goes to the sender only, which
            # then stops as it does without DKIM; the child ends when its input closes.
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=errors, start_new_session=True)
        except BaseException:
            errors.close()
            raise
        started = cls(process, errors)
        try:
            started._to.write(b"".join(frame(part) for part in (
                signer.key.kind.encode("ascii"), signer.key.private, signer.selector,
                signer.domain)))
            if await started.receive(1) != [_READY]:
                raise SendError("the DKIM signing process did not start as expected")
        except BaseException:  # failed or cancelled: the child ends, its stderr file closes
            started.abandon()
            raise
        return started

    def send(self, messages: list[bytes]) -> None:
        """Queue messages (each CRLF-only and ending in CRLF) to be signed, in order."""
        self._to.writelines(piece for message in messages
                            for piece in (_LENGTH.pack(len(message)), message))

    async def receive(self, count: int) -> list[bytes]:
        """The DKIM-Signature fields of the next `count` messages sent."""
        fields = []
        try:
            await self._to.drain()
            for _ in range(count):
                (length,) = _LENGTH.unpack(await self._from.readexactly(_LENGTH.size))
                fields.append(await self._from.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError):
            raise SendError(await self._failure()) from None
        for field in fields:
            if field.startswith(_FAILED):
                raise SendError("a message could not be signed with DKIM: "
                                + field[1:].decode("utf-8", "replace"))
        return fields

    def abandon(self) -> None:
        """Close the child's input: it ends by itself, and its pipes close after it."""
        self._to.close()
        self._errors.close()

    async def close(self) -> None:
        """Let the child end (it stops at the end of its input); kill it if it hangs."""
        self.abandon()  # first, and without waiting: the child ends even if we are cancelled
        try:
            await asyncio.wait_for(self._process.wait(), CLOSE_SECONDS)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()

    async def _failure(self) -> str:
        """What the child said before it ended (the last line of its stderr)."""
        self._to.close()
        code = await self._process.wait()
        self._errors.seek(0)
        last = self._errors.read().decode("utf-8", "replace").strip()
        last = last.splitlines()[-1] if last else "no message"
        return f"the DKIM signing process ended early (exit code {code}: {last})"


def _read(source: BinaryIO) -> bytes | None:
    """One frame, or None at the end of the input."""
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    data = source.read(length)
    if len(data) < length:
        return None
    return data


def main() -> None:
    """The child: read the key, then answer each message with its signature field."""
    from mailer.delivery.dkim import DkimKey
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    kind, private, selector, domain = (_read(source) or b"" for _ in range(4))
    signer = Signer(DkimKey(kind.decode("ascii"), private), selector.decode("ascii"),
                    domain.decode("ascii"))
    sink.write(frame(_READY))
    sink.flush()
    while (message := _read(source)) is not None:
        try:
            answer = signer.field(message)
        except ValueError as error:
            answer = _FAILED + str(error).encode("utf-8")
        sink.write(frame(answer))
        sink.flush()


if __name__ == "__main__":
    main()
