"""`invite send` through a slow relay: wall time for 200 mails at 100 ms per message.

What it measures (target 2 of the sending issue: under 3 s): the sink
(`bench/sink.py --delay 0.1`, its own process on 127.0.0.1) sleeps 100 ms in
DATA before answering 250, like a relay that scans each message. `invite send
--yes` runs with its DEFAULT settings (concurrency 8) on a fresh workspace of 200
recipients, timed from spawn to exit (start-up included). The floor set by the
relay alone is 200 / 8 x 0.1 s = 2.5 s; for reference it also times a raw
aiosmtplib loop over 8 persistent connections pushing 200 pre-built messages of
the invitation's size through the same relay (in-process, first send to last
reply). Three runs, median reported.

Run (about 20 seconds):

    .venv/bin/python bench/send_slow_relay.py [--count 200] [--delay 0.1] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio

from send_throughput import build_messages, raw_loop
from sink import SinkProcess
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

TARGET_SECONDS = 3.0
DEFAULT_CONCURRENCY = 8


def main() -> None:
    parser = argparse.ArgumentParser(description="invite send through a slow relay")
    parser.add_argument("--count", type=int, default=200, help="Mails per run.")
    parser.add_argument("--delay", type=float, default=0.1, help="Relay seconds per message.")
    parser.add_argument("--runs", type=int, default=3, help="Repetitions (median reported).")
    args = parser.parse_args()
    print(check_quiet(), flush=True)
    languages = ready_languages()
    prepared = make_workspace(args.count, languages)
    floor = -(-args.count // DEFAULT_CONCURRENCY) * args.delay
    times: list[float] = []
    raw_times: list[float] = []
    with SinkProcess(delay=args.delay) as sink:
        env = bench_env(sink.port)
        size = message_size(prepared, env)
        messages = build_messages(args.count, size)
        for run in range(1, args.runs + 1):
            raw_times.append(asyncio.run(raw_loop(sink.port, messages, DEFAULT_CONCURRENCY)))
            folder = copy_workspace(prepared)
            try:
                before = sink.count()
                sent = time_send(folder, env)
                received = sink.count() - before
            finally:
                remove_workspace(folder)
            if sent_count(sent.stdout) != args.count or received != args.count:
                raise RuntimeError(f"invite send reported {sent_count(sent.stdout)} sent, "
                                   f"the sink got {received}; expected {args.count}")
            times.append(sent.seconds)
            print(f"run {run}: invite send {sent.seconds:.2f} s "
                  f"({args.count / sent.seconds:.0f} msg/s); raw loop {raw_times[-1]:.2f} s",
                  flush=True)
    remove_workspace(prepared)
    wall = median(times)
    print()
    print(f"{args.count} mails ({', '.join(languages)}), relay {args.delay * 1000:.0f} ms per "
          f"message, invite send defaults (concurrency {DEFAULT_CONCURRENCY})")
    print(f"wall time, whole process: {wall:.2f} s (median of {args.runs}); relay floor "
          f"{floor:.2f} s, overhead {wall - floor:.2f} s")
    print(f"raw aiosmtplib loop, {DEFAULT_CONCURRENCY} connections, {size}-byte messages, same "
          f"relay: {median(raw_times):.2f} s")
    print(f"target < {TARGET_SECONDS:.1f} s: {'met' if wall < TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
