"""Sending throughput of `invite send` against a raw aiosmtplib loop, into one local sink.

What it measures (target 1 of the sending issue: ratio >= 0.45):

* raw: 16 persistent aiosmtplib connections push N pre-built ~8 KB messages
  (made once with email.message.EmailMessage, before timing) into the sink;
  timed in this process from the first send to the last reply. This is the
  reference: what the loopback, aiosmtplib and the sink allow on this machine.
* invite: `invite send --yes --concurrency 16` of N recipients as a subprocess,
  timed from spawn to exit, so process start-up, the template check, rendering,
  link signing and the outbox writes are all included.

Both go into the same sink (`bench/sink.py`, its own process, 127.0.0.1 only).
Each is repeated `--runs` times, alternating; the medians and their ratio are
printed, with the size of one invitation. For information it also times the raw
loop with messages the size of a real invitation (`raw, invite-sized`).

Run (about a minute and a half on 2 cores):

    .venv/bin/python bench/send_throughput.py [--count 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from sink import HOST, SinkProcess
from workspace import (
    bench_env,
    check_quiet,
    copy_workspace,
    make_workspace,
    median,
    message_size,
    ready_languages,
    remove_workspace,
    sent_count,
    time_send,
)

CONNECTIONS = 16
TARGET_RATIO = 0.45
FROM = "bench@example.org"


def _message(index: int, chars: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Benchmark <{FROM}>"
    message["To"] = f"Person {index} <person{index}@example.org>"
    message["Subject"] = "Einladung: Deutsch-französisches Cluster-Symposium in Limoges"
    message["Message-ID"] = f"<{index}.bench@example.org>"
    paragraph = ("Sehr geehrte Damen und Herren, wir laden Sie herzlich zum Symposium und zur "
                 "Kooperationsbörse ein. Bitte antworten Sie über Ihren persönlichen Link. ")
    text = (paragraph * (chars // len(paragraph) + 1))[:chars]
    message.set_content(text)
    message.add_alternative(f"<html><body><p>{text}</p><p>{text}</p></body></html>",
                            subtype="html")
    return message.as_bytes()


def body_chars(size: int) -> int:
    """How many body characters make a message of about `size` bytes once encoded."""
    chars = size // 3
    for _ in range(3):  # the transfer encoding grows the text; scale until the size fits
        chars = max(1, int(chars * size / len(_message(0, chars))))
    return chars


def build_messages(count: int, size: int) -> list[bytes]:
    """`count` multipart/alternative mails (text + HTML) of about `size` bytes each.

    One is made with EmailMessage; the others differ only in To and Message-ID.
    """
    model = _message(0, body_chars(size))
    to, message_id = b"Person 0 <person0@example.org>", b"<0.bench@example.org>"
    return [model.replace(to, f"Person {i} <person{i}@example.org>".encode())
            .replace(message_id, f"<{i}.bench@example.org>".encode()) for i in range(count)]


async def _raw_worker(client: aiosmtplib.SMTP, messages: list[bytes], next_index: list[int]
                      ) -> None:
    while next_index[0] < len(messages):
        index = next_index[0]
        next_index[0] += 1
        errors, _ = await client.sendmail(FROM, [f"person{index}@example.org"], messages[index])
        if errors:
            raise RuntimeError(f"sink refused: {errors}")


@dataclass(frozen=True)
class Timing:
    """One timed pass: wall seconds, and CPU milliseconds per message on each side."""

    seconds: float
    client_cpu_ms: float
    sink_cpu_ms: float


async def raw_loop(port: int, messages: list[bytes], connections: int = CONNECTIONS) -> float:
    """Send every message over `connections` persistent connections; return seconds taken."""
    clients = [aiosmtplib.SMTP(hostname=HOST, port=port, local_hostname="bench.localhost",
                               timeout=30) for _ in range(connections)]
    await asyncio.gather(*(client.connect() for client in clients))
    await asyncio.gather(*(client.ehlo() for client in clients))
    next_index = [0]
    start = time.perf_counter()
    await asyncio.gather(*(_raw_worker(client, messages, next_index) for client in clients))
    seconds = time.perf_counter() - start
    await asyncio.gather(*(client.quit() for client in clients))
    return seconds


def time_raw(sink: SinkProcess, messages: list[bytes]) -> Timing:
    """Run the raw loop once; check the sink got every message."""
    count, sink_cpu = sink.stats()
    cpu = time.process_time()
    seconds = asyncio.run(raw_loop(sink.port, messages))
    cpu = time.process_time() - cpu
    received, sink_after = sink.stats()
    if received - count != len(messages):
        raise RuntimeError(f"the sink got {received - count} of {len(messages)} raw messages")
    n = len(messages)
    return Timing(seconds, cpu / n * 1000, (sink_after - sink_cpu) / n * 1000)


def time_invite(sink: SinkProcess, prepared: Path, env: dict[str, str], count: int,
                concurrency: int) -> tuple[Timing, float]:
    """Run `invite send` once on a fresh copy of the workspace; return timing and peak MB."""
    folder = copy_workspace(prepared)
    try:
        before, sink_cpu = sink.stats()
        sent = time_send(folder, env, ["--concurrency", str(concurrency)])
        received, sink_after = sink.stats()
    finally:
        remove_workspace(folder)
    if sent_count(sent.stdout) != count or received - before != count:
        raise RuntimeError(f"invite send reported {sent_count(sent.stdout)} sent, "
                           f"the sink got {received - before}; expected {count}")
    timing = Timing(sent.seconds, sent.cpu_seconds / count * 1000,
                    (sink_after - sink_cpu) / count * 1000)
    return timing, sent.max_rss_kb / 1024


def _line(name: str, timings: list[Timing], count: int) -> str:
    rate = median([count / t.seconds for t in timings])
    client = median([t.client_cpu_ms for t in timings])
    sink = median([t.sink_cpu_ms for t in timings])
    return (f"{name:<44} {rate:6.0f} msg/s   CPU per message: sender {client:.2f} ms, "
            f"sink {sink:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description="invite send throughput vs a raw SMTP loop")
    parser.add_argument("--count", type=int, default=5000, help="Mails per run.")
    parser.add_argument("--runs", type=int, default=3, help="Repetitions (median reported).")
    parser.add_argument("--concurrency", type=int, default=CONNECTIONS,
                        help="--concurrency given to invite send.")
    args = parser.parse_args()
    count = args.count

    print(check_quiet(), flush=True)
    languages = ready_languages()
    print(f"preparing a workspace of {count} recipients ({', '.join(languages)}) ...", flush=True)
    prepared = make_workspace(count, languages)
    raw_messages = build_messages(count, 8 * 1024)
    raw_size = len(raw_messages[0])

    raw: list[Timing] = []
    sized: list[Timing] = []
    invite: list[Timing] = []
    with SinkProcess() as sink:
        env = bench_env(sink.port)
        invite_size = message_size(prepared, env)
        sized_messages = build_messages(count, invite_size)
        for run in range(1, args.runs + 1):
            raw.append(time_raw(sink, raw_messages))
            sized.append(time_raw(sink, sized_messages))
            timing, peak_mb = time_invite(sink, prepared, env, count, args.concurrency)
            invite.append(timing)
            print(f"run {run}: raw {count / raw[-1].seconds:5.0f} msg/s ({raw[-1].seconds:.2f} s)"
                  f"   raw, invitation-sized {count / sized[-1].seconds:5.0f} msg/s"
                  f"   invite {count / timing.seconds:5.0f} msg/s ({timing.seconds:.2f} s, "
                  f"peak RSS {peak_mb:.0f} MB)   ratio {raw[-1].seconds / timing.seconds:.3f}",
                  flush=True)
    remove_workspace(prepared)

    raw_rate = median([count / t.seconds for t in raw])
    sized_rate = median([count / t.seconds for t in sized])
    invite_rate = median([count / t.seconds for t in invite])
    ratio = invite_rate / raw_rate
    print()
    print(f"{count} mails per run, medians of {args.runs} runs; languages {', '.join(languages)}")
    print(f"message size: raw {raw_size} bytes, one invitation {invite_size} bytes")
    print(_line(f"raw loop, {CONNECTIONS} connections, {raw_size} B", raw, count))
    print(_line(f"raw loop, {CONNECTIONS} connections, {invite_size} B", sized, count))
    print(_line(f"invite send --concurrency {args.concurrency} (whole process)", invite, count))
    print(f"ratio invite / raw: {ratio:.3f} (target >= {TARGET_RATIO}: "
          f"{'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    print(f"ratio invite / raw with invitation-sized messages: {invite_rate / sized_rate:.3f}")


if __name__ == "__main__":
    main()
