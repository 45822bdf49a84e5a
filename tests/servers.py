"""The real RSVP app under a real uvicorn in a thread, for end-to-end and browser tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from rsvp.config import load_event
from rsvp.settings import load_settings
from rsvp.store import open_store
from rsvp.web.app import create_app


@contextmanager
def serving(workspace: Path, port: int, env: dict[str, str]) -> Iterator[None]:
    """Serve `workspace` on 127.0.0.1:`port` until the block ends."""
    settings = load_settings(workspace, env)
    store = open_store(settings.database)
    server = uvicorn.Server(uvicorn.Config(
        create_app(settings, load_event(settings.event_file), store), host="127.0.0.1",
        port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
