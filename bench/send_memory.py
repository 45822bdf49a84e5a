"""Peak memory of `invite send` for 20,000 recipients, and its time.

What it measures (target 3 of the sending issue: peak RSS under 150 MB): `invite
send --yes` of a fresh workspace of N recipients (languages mixed) into the
fast sink (`bench/sink.py`, its own process on 127.0.0.1), run under
`/usr/bin/time -v` (or, without it, RUSAGE_CHILDREN after the process). Prints
the peak resident set size of the `invite send` process and its wall time. To
tell growth from the fixed cost, it also runs the same send for N/10
recipients first.

Run (about 2 minutes on 2 cores, most of it the send itself):

    .venv/bin/python bench/send_memory.py [--count 20000]
"""

from __future__ import annotations

import argparse

from sink import SinkProcess
from workspace import (
    bench_env,
    check_quiet,
    make_workspace,
    ready_languages,
    remove_workspace,
    sent_count,
    time_send,
)

TARGET_MB = 150.0


def main() -> None:
    parser = argparse.ArgumentParser(description="peak RSS of invite send")
    parser.add_argument("--count", type=int, default=20000, help="Recipients.")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="--concurrency for invite send (default: its own default).")
    args = parser.parse_args()
    print(check_quiet(), flush=True)
    languages = ready_languages()
    extra = ["--concurrency", str(args.concurrency)] if args.concurrency else []
    peaks: dict[int, float] = {}
    with SinkProcess() as sink:
        env = bench_env(sink.port)
        for count in (max(1, args.count // 10), args.count):
            folder = make_workspace(count, languages)
            try:
                before = sink.count()
                sent = time_send(folder, env, extra)
                received = sink.count() - before
            finally:
                remove_workspace(folder)
            if sent_count(sent.stdout) != count or received != count:
                raise RuntimeError(f"invite send reported {sent_count(sent.stdout)} sent, "
                                   f"the sink got {received}; expected {count}")
            peaks[count] = sent.max_rss_kb / 1024
            print(f"{count:6d} recipients: peak RSS {peaks[count]:.1f} MB, "
                  f"{sent.seconds:.1f} s ({count / sent.seconds:.0f} msg/s)", flush=True)
    small, large = peaks[max(1, args.count // 10)], peaks[args.count]
    growth = (large - small) / (args.count - max(1, args.count // 10)) * 1024 * 1024
    print()
    print(f"languages {', '.join(languages)}; growth {growth:.0f} bytes per extra recipient")
    print(f"peak RSS for {args.count} recipients: {large:.1f} MB (target < {TARGET_MB:.0f} MB: "
          f"{'met' if large < TARGET_MB else 'NOT met'})")


if __name__ == "__main__":
    main()
