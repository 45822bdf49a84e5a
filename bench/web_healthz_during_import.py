"""Latency of /healthz (and of a form page and an answer) while `invite import` of a big
file runs in another process (issue 8: before, /healthz took up to 7 s there).

It makes a workspace (`invite init`, the sample recipients imported), writes a CSV of
`--rows` people, starts `invite serve --no-sender`, then runs `invite import` of that
CSV as its own process. While the import runs it asks every 50 ms for /healthz and for
one person's form page, and every 500 ms posts an answer (a write: it may wait for the
import's write lock up to INVITE_DB_WAIT, 3 s, then gets 503). It prints median, p99
and max per kind, the statuses seen, and how long the import took.

    .venv/bin/python bench/web_healthz_during_import.py [--rows 150000]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
INVITE = ROOT / ".venv" / "bin" / "invite"
SECRET_KEY = "bench-web-secret-key-0123456789ab"
HOST = "127.0.0.1"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from web_answers import server

from mailer.cli.catcher import free_port
from rsvp.store import open_store
from rsvp.tokens import ANSWER, LinkSigner


def invite_env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVITE_")}
    return env | {"INVITE_SECRET_KEY": SECRET_KEY, "INVITE_BASE_URL": f"http://{HOST}:{port}",
                  "INVITE_SMTP_HOST": HOST, "INVITE_SMTP_PORT": "9", "INVITE_RATE_LIMIT": "off"}


def write_people(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "salutation", "organisation",
                         "role", "language"])
        for i in range(rows):
            writer.writerow([f"bulk{i}@example.org", "Käthe", f"Müller-{i}",
                             ("Frau", "Mme", "Ms")[i % 3], "Netzwerk e.V.",
                             ("network_manager", "company")[i % 2], ("de", "fr", "en")[i % 3]])


def first_answer_link(folder: Path) -> str:
    store = open_store(folder / "invite.db")
    try:
        who = next(store.recipients())
        return LinkSigner((SECRET_KEY,)).sign(ANSWER, who.id, store.event_id, who.token_version)
    finally:
        store.close()


class Sampler(threading.Thread):
    """Make one request every `every` seconds until stopped; keep (seconds, status)."""

    def __init__(self, request: Callable[[httpx.Client], httpx.Response], every: float) -> None:
        super().__init__(daemon=True)
        self.request, self.every = request, every
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    status = self.request(client).status_code
                except httpx.TransportError:
                    status = 0
                self.samples.append((time.monotonic() - started, status))
                self.stop.wait(max(0.0, self.every - (time.monotonic() - started)))


def report(name: str, samples: list[tuple[float, int]]) -> None:
    if not samples:
        print(f"  {name:<22} no samples")
        return
    times = sorted(seconds * 1000 for seconds, _ in samples)
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    statuses = ", ".join(f"{status}: {count}" for status, count in
                         sorted(Counter(status for _, status in samples).items()))
    print(f"  {name:<22} {len(times):5d} samples  median {times[len(times) // 2]:7.1f} ms  "
          f"p99 {p99:7.1f} ms  max {times[-1]:7.1f} ms  ({statuses})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="invite-healthz-bench-"))
    try:
        return run(base, args.rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path, rows: int) -> int:
    port = free_port()
    env = invite_env(port)
    folder = base / "ws"
    subprocess.run([str(INVITE), "init", str(folder)], env=env, check=True, capture_output=True)
    subprocess.run([str(INVITE), "import", str(folder / "recipients.csv"), "-w", str(folder)],
                   env=env, check=True, capture_output=True)
    people = base / "people.csv"
    write_people(people, rows)
    url = f"http://{HOST}:{port}"
    form = f"{url}/r/{first_answer_link(folder)}"
    answers = iter(range(1_000_000))
    with server([str(INVITE), "serve", "--host", HOST, "--port", str(port), "--no-sender",
                 "-w", str(folder)], env, port, base / "serve.log"):
        samplers = {
            "GET /healthz": Sampler(lambda c: c.get(f"{url}/healthz"), 0.05),
            "GET form page": Sampler(lambda c: c.get(form), 0.05),
            "POST answer": Sampler(lambda c: c.post(form, data={
                "attendance": "yes", "parts": "symposium", "comment": f"n{next(answers)}"}), 0.5),
        }
        started = time.monotonic()
        importing = subprocess.Popen([str(INVITE), "import", str(people), "-w", str(folder)],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        for sampler in samplers.values():
            sampler.start()
        output = importing.communicate()[0]
        took = time.monotonic() - started
        for sampler in samplers.values():
            sampler.stop.set()
        for sampler in samplers.values():
            sampler.join()
    print(f"invite import of {rows:,} rows took {took:.1f} s (exit {importing.returncode}): "
          f"{output.strip().splitlines()[-1] if output.strip() else ''}")
    print("while it ran:")
    for name, sampler in samplers.items():
        report(name, sampler.samples)
    log = (base / "serve.log").read_text(encoding="utf-8")
    print("server log: " + ("Traceback found" if "Traceback" in log else "no traceback"))
    return 0 if importing.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
