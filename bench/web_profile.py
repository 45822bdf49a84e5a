"""Where the time of one GET /r/{token} and one answer goes in invite's web app.

Two measurements on the example workspace with `--recipients` people, all answered:

* in process, no network: `--requests` GETs of the form and as many POST answers
  straight through the ASGI app, with the main steps wrapped in timers (link check,
  reading the person with their answer, filling the page from its plan, recording the
  answer); it prints microseconds per request for each step and for the whole request;
* over loopback under wrk (16 connections, `--duration` s, one uvicorn worker as
  `invite serve` runs it): GET of the form as shipped, and the same app answering
  GET /r/{token} with a constant page of the form's size from a plain route: the floor
  that the framework, the middleware and the network set for this page.

For a sampling profile of the real server use py-spy on `invite serve` during
bench/web_answers.py (`py-spy record --format raw --pid PID`).

    .venv/bin/python bench/web_profile.py [--recipients 2000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from web_answers import (
    BENCH,
    HOST,
    LUA,
    PYTHON,
    invite_env,
    make_workspace,
    server,
    wait_for_quiet,
    write_tokens,
    wrk,
)

from mailer.cli.catcher import free_port
from rsvp.store import Store
from rsvp.tokens import LinkSigner
from rsvp.web import pages as pages_module
from rsvp.web.app import app_from_env

SPENT: defaultdict[str, float] = defaultdict(float)


def timed(owner: Any, name: str, label: str) -> None:
    """Wrap method `name` of class `owner` so its time adds up under `label`."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


async def call(app: FastAPI, method: str, path: str, body: bytes = b"") -> int:
    """Send one request through the ASGI app; return its status."""
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    headers = [(b"host", b"bench")]
    if body:
        headers += [(b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    return status


def in_process(folder: Path, tokens: list[str], count: int) -> None:
    """Time the steps of GET and POST requests through the app itself."""
    os.environ.update(invite_env(INVITE_RATE_LIMIT="off", INVITE_WORKSPACE=str(folder)))
    timed(LinkSigner, "read", "link check (itsdangerous)")
    timed(Store, "answer_view", "read person + answer (SQLite)")
    timed(Store, "record_answer", "record answer (SQLite write)")
    timed(pages_module.Pages, "form", "form page (plan filled)")
    timed(pages_module.Pages, "recorded", "recorded page (plan filled)")
    timed(pages_module.Pages, "render", "Jinja renders (fallbacks)")
    app = app_from_env()

    async def run(method: str, body: Callable[[int], bytes]) -> float:
        start = time.perf_counter()
        for i in range(count):
            status = await call(app, method, f"/r/{tokens[i % len(tokens)]}", body(i))
            assert status == 200, status
        return time.perf_counter() - start

    # Answers first, so that the form then shows everyone's answer, as in web_answers.py.
    def answer(i: int) -> bytes:
        return f"attendance=yes&parts=symposium&comment=p{i}".encode()

    for method, body in (("POST", answer), ("GET", lambda i: b"")):
        asyncio.run(run(method, body))  # warm up: templates compiled, pages cached by SQLite
        SPENT.clear()
        total = asyncio.run(run(method, body))
        print(f"{method} /r/{{token}} in process: {total / count * 1e6:6.0f} us per request")
        for label, seconds in sorted(SPENT.items(), key=lambda item: -item[1]):
            print(f"  {label:<30} {seconds / count * 1e6:6.0f} us")


def floor_app() -> FastAPI:
    """invite's app, but GET /r/{token} answers a constant page of the form's size from a
    plain route: what the framework, middleware and network cost for such a page."""
    app = app_from_env()
    page = "<!doctype html>" + "x" * 7500  # the example form is 7.2 to 7.7 KB

    async def constant(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    app.router.routes.insert(0, Route("/r/{token}", constant, methods=["GET"]))
    return app


def over_loopback(base: Path, folder: Path, tokens: Path, duration: int) -> None:
    script = base / "answers.lua"
    script.write_text(LUA, encoding="utf-8")
    env = invite_env(INVITE_RATE_LIMIT="off", INVITE_WORKSPACE=str(folder))
    flags = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level",
             "warning", "--proxy-headers", "--no-server-header"]
    for label, target in (("as shipped", "rsvp.web.app:app_from_env"),
                          ("floor: constant page", "web_profile:floor_app")):
        port = free_port()
        command = [str(PYTHON), "-m", "uvicorn", "--app-dir", str(BENCH), "--factory", target,
                   "--host", HOST, "--port", str(port), *flags]
        with server(command, env, port, base / "profile.log"):
            load = wrk(f"GET form, {label}", port, "get", tokens, 16, duration, script)
        print(f"  {load.name:<34} {load.rps:8.0f} req/s  p99 {load.p99_ms:6.1f} ms  "
              f"errors {load.errors}  not 200: {load.not_200}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    wait_for_quiet()
    base = Path(tempfile.mkdtemp(prefix="invite-web-profile-"))
    try:
        folder = make_workspace(base, args.recipients)
        token_file = base / "tokens.txt"
        write_tokens(folder, token_file)
        subprocess.run([str(PYTHON), __file__, "--in-process", str(folder), str(token_file),
                        str(args.requests)], check=True)
        over_loopback(base, folder, token_file, args.duration)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--in-process"]:
        # Its own process: the timers wrap classes, which must not leak into the servers.
        in_process(Path(sys.argv[2]), Path(sys.argv[3]).read_text(encoding="ascii").split(),
                   int(sys.argv[4]))
        sys.exit(0)
    sys.exit(main())
