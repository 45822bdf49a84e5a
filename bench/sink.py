"""A counting, discarding SMTP sink for the sending benchmarks, run as its own process.

It listens on 127.0.0.1 only, accepts every message, throws the content away and
answers "250 OK" after DATA (optionally after sleeping `--delay` seconds, to play a
slow relay). It prints one line `READY <port>` on stdout once it accepts
connections, prints `COUNT <n> <cpu>` (messages accepted so far, CPU seconds the
sink has used) on SIGUSR1, and on SIGTERM or SIGINT prints the final line and exits.

Run it by hand:

    .venv/bin/python bench/sink.py --port 8725 [--delay 0.1]

The benchmarks start it themselves through `SinkProcess` below.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

from aiosmtpd.smtp import SMTP

HOST = "127.0.0.1"


class CountingHandler:
    """aiosmtpd handler: count each message, keep nothing."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        self.count += 1
        return "250 OK"


async def serve(port: int, delay: float) -> int:
    """Serve until SIGTERM/SIGINT; return the number of messages accepted."""
    loop = asyncio.get_running_loop()
    handler = CountingHandler(delay)
    # A fixed hostname avoids aiosmtpd's socket.getfqdn() lookup on every connection.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.localhost", data_size_limit=32 * 1024 * 1024),
        host=HOST, port=port, reuse_address=True, backlog=256)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: print(_status(handler.count), flush=True))
    print(f"READY {port}", flush=True)
    await stop.wait()
    server.close()
    return handler.count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True, help="Port on 127.0.0.1.")
    parser.add_argument("--delay", type=float, default=0.0,
                        help="Seconds to wait in DATA before answering 250.")
    args = parser.parse_args(argv)
    count = asyncio.run(serve(args.port, args.delay))
    print(_status(count), flush=True)


def _status(count: int) -> str:
    return f"COUNT {count} {time.process_time():.3f}"


def free_port() -> int:
    """A loopback port that is free right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class SinkProcess:
    """Start `bench/sink.py` in its own process; use as a context manager."""

    def __init__(self, delay: float = 0.0, port: int | None = None) -> None:
        self.delay = delay
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port),
             "--delay", str(self.delay)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != f"READY {self.port}":
            self.process.kill()
            raise RuntimeError(f"sink did not start: {line!r}")
        return self

    def stats(self) -> tuple[int, float]:
        """Messages the sink has accepted so far, and the CPU seconds it has used."""
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGUSR1)
        _, count, cpu = self.process.stdout.readline().split()
        return int(count), float(cpu)

    def count(self) -> int:
        """Messages the sink has accepted so far."""
        return self.stats()[0]

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


if __name__ == "__main__":
    main()
