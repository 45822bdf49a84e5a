"""Where the time of `invite send` goes, per message and per stage, measured in-process.

It prepares a workspace (N recipients, languages mixed) and, with the same
objects `invite send` uses (Workspace, Composer, Outbox), times:

* process start-up: `invite send --yes` on a workspace with nothing to send
  (interpreter, imports, settings, event, database), median of 5;
* Composer set-up and the first render of each language (template loading,
  CSS inlining, compilation);
* per message: signing both links, rendering each part (subject, text, HTML),
  building the bytes, and the whole `compose`; `check_all`, which renders
  every message once more before the first is sent;
* the outbox writes `invite send` makes per batch (claim + finish);
* the client side of SMTP: aiosmtplib `sendmail` of one invitation-sized
  message is in `send_throughput.py` (raw loop), not here.

All figures are microseconds per message (best of `--repeat` passes, which is
the cost without noise from the other process on the machine).

Run (about 30 seconds):

    .venv/bin/python bench/send_breakdown.py [--count 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workspace import (
    INVITE,
    bench_env,
    check_quiet,
    copy_workspace,
    make_workspace,
    median,
    ready_languages,
    remove_workspace,
)

from mailer.content.compose import _qp
from mailer.content.composer import Composer
from mailer.content.render import PARTS, Links, RenderedMail
from mailer.delivery.outbox import Outbox, Outcome
from mailer.people.workspace import open_workspace
from rsvp.config import EventConfig
from rsvp.settings import Settings
from rsvp.store import Recipient, Store
from rsvp.tokens import ANSWER, UNSUBSCRIBE


def best_of(repeat: int, action: Callable[[], None]) -> float:
    """Fastest wall time of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def startup_seconds(folder: Path, env: dict[str, str], runs: int = 5) -> float:
    """Wall time of `invite send --yes` when nothing is left to send."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(INVITE), "send", "--yes", "-w", str(folder)], env=env,
                       capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - start)
    return median(times)


def what_ifs(settings: Settings, event: EventConfig, store: Store, people: list[Recipient],
             links: dict[int, Links], rendered: dict[int, RenderedMail], repeat: int
             ) -> list[tuple[str, float]]:
    """Per-message cost of a render on a second Composer, and of each QP encoding
    (what a relay without 8BITMIME costs; with it, bodies go out as they are)."""
    count = len(people)
    results: list[tuple[str, float]] = []

    def render_with(replace: dict[str, Callable[..., Any]]) -> float:
        composer = Composer(settings, event, store)
        composer.renderer.env.filters.update(replace)
        renderer = composer.renderer

        def run() -> None:
            for p in people:
                renderer.render("invitation", p, links[p.id])
        run()  # load and compile the templates outside the timing
        return best_of(repeat, run) / count * 1e6

    plain = render_with({})
    results.append(("render all parts, as shipped", plain))

    def encode(part: str) -> Callable[[], None]:
        def run() -> None:
            for p in people:
                _qp(getattr(rendered[p.id], part).encode("utf-8"))
        return run

    results.append(("quoted-printable of the text part (compose._qp)",
                    best_of(repeat, encode("text")) / count * 1e6))
    results.append(("quoted-printable of the HTML part (compose._qp)",
                    best_of(repeat, encode("html")) / count * 1e6))
    sample = rendered[people[0].id]
    styles = sum(len(m) for m in re.findall(r' style="[^"]*"', sample.html))
    size_note = (f"HTML part: {len(sample.html.encode())} bytes, of which inline style "
                 f"attributes {styles} bytes (size, not time)")
    results.append((size_note, 0.0))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="per-message cost of each sending stage")
    parser.add_argument("--count", type=int, default=1000, help="Recipients to time over.")
    parser.add_argument("--repeat", type=int, default=3, help="Passes (best one reported).")
    args = parser.parse_args()
    count, repeat = args.count, args.repeat
    print(check_quiet(), flush=True)
    languages = ready_languages()
    prepared = make_workspace(count, languages)
    env = bench_env(9)  # nothing is sent: no SMTP connection is opened
    results: list[tuple[str, float]] = []

    empty = copy_workspace(prepared)
    # Mark everything as sent so the next `invite send` finds nothing to do.
    ws = open_workspace(empty)
    outbox = Outbox(ws.store)
    outbox.queue("invitation")
    ids = [item.id for item in outbox.pending("invitation")]
    outbox.finish([Outcome(i, "sent", "250 OK") for i in ids])
    ws.close()
    results.append(("process start-up (invite send, nothing to send), per run",
                    startup_seconds(empty, env) * 1e6))
    remove_workspace(empty)

    folder = copy_workspace(prepared)
    os.environ.update(env)
    ws = open_workspace(folder)
    outbox = Outbox(ws.store)
    people: list[Recipient] = list(outbox.would_queue("invitation"))
    mailing = "invitation"

    start = time.perf_counter()
    composer = Composer(ws.settings, ws.event, ws.store)
    results.append(("Composer set-up, once", (time.perf_counter() - start) * 1e6))
    start = time.perf_counter()
    first_of = {person.language: person for person in people}
    for person in first_of.values():
        composer.render(mailing, person)
    label = (f"first render of each language ({len(first_of)}: templates loaded, "
             "CSS inlined, compiled), once")
    results.append((label, (time.perf_counter() - start) * 1e6))

    signer, event_id = composer.signer, composer.event_id
    renderer = composer.renderer
    links = {p.id: composer.links(p) for p in people}
    rendered = {p.id: renderer.render(mailing, p, links[p.id]) for p in people}

    def sign_all() -> None:
        for p in people:
            signer.sign(ANSWER, p.id, event_id, p.token_version)
            signer.sign(UNSUBSCRIBE, p.id, event_id, p.token_version)

    def render_part(part: str) -> Callable[[], None]:
        def run() -> None:
            for p in people:
                lang = renderer.language_of(p)
                renderer.template(mailing, lang, part).render(
                    {"lang": lang, "recipient": p, "event": renderer._views[lang],
                     "sender": renderer.sender, "links": links[p.id], "greeting": "Hallo,",
                     "nominator": None})
        return run

    def render_all() -> None:
        for p in people:
            renderer.render(mailing, p, links[p.id])

    def build_all() -> None:
        for p in people:
            composer.builder.build(rendered[p.id], p.full_name, p.email_ascii, "<x@example.org>",
                                   links[p.id].unsubscribe, renderer.language_of(p))

    def compose_all() -> None:
        for p in people:
            composer.compose(mailing, p)

    def check_all() -> None:
        composer.check_all(mailing, people)

    stages: list[tuple[str, Callable[[], None]]] = [
        ("sign both links", sign_all),
        *[(f"render {part} part", render_part(part)) for part in PARTS],
        ("render all parts (MailRenderer.render)", render_all),
        ("build bytes (MessageBuilder.build: headers, quoted-printable)", build_all),
        ("compose = sign + render + build (per message sent)", compose_all),
        ("check_all (renders every message again before sending)", check_all),
    ]
    for name, action in stages:
        results.append((name, best_of(repeat, action) / count * 1e6))

    outbox.queue(mailing)
    items = list(outbox.pending(mailing))
    batch = 16

    def outbox_writes() -> None:
        for i in range(0, len(items), batch):
            chunk = items[i:i + batch]
            outbox.claim([(item.id, f"<{item.id}@example.org>") for item in chunk])
            outbox.finish([Outcome(item.id, "sent", "250 OK") for item in chunk])

    results.append((f"outbox claim + finish (batches of {batch})",
                    best_of(1, outbox_writes) / count * 1e6))
    size = len(composer.compose(mailing, people[0]).data)
    whatifs = what_ifs(ws.settings, ws.event, ws.store, people, links, rendered, repeat)
    ws.close()
    remove_workspace(folder)
    remove_workspace(prepared)

    print(f"{count} recipients ({', '.join(languages)}); one invitation is {size} bytes; "
          f"microseconds per message unless marked 'once' / 'per run'")
    for name, micros in results:
        print(f"{micros:12.0f} us  {name}")
    per_message = dict(results)
    cpu = (per_message["compose = sign + render + build (per message sent)"]
           + per_message["check_all (renders every message again before sending)"]
           + per_message[f"outbox claim + finish (batches of {batch})"])
    print(f"\ninvite-side CPU before SMTP, per message: {cpu:.0f} us "
          f"(ceiling {1e6 / cpu:.0f} msg/s on one core, SMTP client work not included)")
    print("\nwhere render and build spend it (same recipients, a second Composer):")
    for name, micros in whatifs:
        print(f"{micros:12.0f} us  {name}")


if __name__ == "__main__":
    main()
