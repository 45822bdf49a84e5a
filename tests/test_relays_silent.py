"""A relay that accepts the connection but never greets must hold up no other relay:
each relay's workers start as soon as its connections are open, and a relay that greets
late joins the run then."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mailer.delivery.outbox import Outbox
from rsvp.store import Store
from tests.test_relays_send import ThrottlingRelay, people, received, relays, run, url

__all__ = ["relays"]  # the fixture


@contextmanager
def listener(on_connection: Callable[[socket.socket, list[socket.socket]], None]
             ) -> Iterator[int]:
    """A real listener on 127.0.0.1 handing each connection to `on_connection`, with the
    list of sockets closed at the end (the handler may add its own); yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    opened: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                client = server.accept()[0]
            except TimeoutError:
                continue
            opened.append(client)
            on_connection(client, opened)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for end in opened:
            end.close()
        server.close()


@contextmanager
def silent_relay() -> Iterator[int]:
    """A real listener on 127.0.0.1 that accepts connections and never says a word."""
    with listener(lambda client, opened: None) as port:
        yield port


@contextmanager
def late_greeting(port: int, after: float) -> Iterator[int]:
    """A real listener on 127.0.0.1 that, `after` seconds into each connection, passes it
    on to the relay on `port` (which then greets): a relay slow to answer."""
    def pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                end.close()

    def serve(client: socket.socket, opened: list[socket.socket]) -> None:
        time.sleep(after)
        relay = socket.create_connection(("127.0.0.1", port))
        opened.append(relay)
        threading.Thread(target=pipe, args=(relay, client), daemon=True).start()
        pipe(client, relay)

    def start(client: socket.socket, opened: list[socket.socket]) -> None:
        threading.Thread(target=serve, args=(client, opened), daemon=True).start()

    with listener(start) as listening:
        yield listening


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
