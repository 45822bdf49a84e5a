"""A relay that accepts the connection but never greets must hold up no other relay:
each relay's workers start as soon as its connections are open, and a relay that greets
late joins the run then."""

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


@contextmanager
def late_greeting(port: int, after: float) -> Iterator[int]:
    """A real listener on 127.0.0.1 that, `after` seconds into each connection, passes it
    on to the relay on `port` (which then greets): a relay slow to answer."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    pipes: list[socket.socket] = []

    def pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                end.close()

    def serve(client: socket.socket) -> None:
        time.sleep(after)
        relay = socket.create_connection(("127.0.0.1", port))
        pipes.extend((client, relay))
        threading.Thread(target=pipe, args=(relay, client), daemon=True).start()
        pipe(client, relay)

    def accept() -> None:
        while not stop.is_set():
            try:
                client = server.accept()[0]
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for end in pipes:
            end.close()
        server.close()


def test_a_relay_that_greets_late_joins_the_run(
        workspace: Path, store: Store,
        relays: tuple[ThrottlingRelay, ThrottlingRelay]) -> None:
    prompt, slow = relays
    prompt.delay = 0.1  # a run of about 2 s over the prompt relay alone
    addresses = people(store, 20)
    with late_greeting(slow.port, 0.4) as late:  # type: ignore[attr-defined]
        started = time.monotonic()
        report = run(workspace, store, f"{url(prompt, 'connections=1')} "
                     f"smtp+plain://127.0.0.1:{late}?connections=1")
    assert received(prompt, slow) == sorted(addresses)  # each mail once
    assert prompt.snapshot() and slow.snapshot()  # the late relay took its share
    assert prompt.arrivals[0] - started < 0.4  # the prompt relay did not wait for it
    assert report.sent == 20 and not report.unreachable


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
    # Raw UTF-8 bodies only when every relay said it takes them: the silent one did not.
    assert first.mail_options and not any("BODY=8BITMIME" in o for o in first.mail_options)
