"""A relay that accepts the connection but never greets must hold up no other relay:
each relay's workers start as soon as its connections are open."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mailer.delivery.outbox import Outbox
from rsvp.store import Store
from tests.test_relays_send import ThrottlingRelay, people, received, relays, run, url

__all__ = ["relays"]  # the fixture


@contextmanager
def silent_relay() -> Iterator[int]:
    """A real listener on 127.0.0.1 that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


def test_a_relay_that_never_greets_holds_up_no_other(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    first, _ = relays
    addresses = people(store, 2)
    with silent_relay() as port:
        started = time.monotonic()
        report = run(workspace, store, f"smtp+plain://127.0.0.1:{port} {url(first)}")
        took = time.monotonic() - started
    assert took < 5, f"the run took {took:.1f} s"
    assert received(first) == sorted(addresses)
    assert {row["state"] for row in Outbox(store).export_rows()} == {"sent"}
    silent = f"the mail relay 127.0.0.1:{port} had not greeted when the run ended"
    assert report.unreachable == [silent]
