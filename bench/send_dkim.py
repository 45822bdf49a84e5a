"""Send rate of `invite send` with DKIM signing, as a ratio to the same run without (#9).

The same workspace of N recipients is sent, from a fresh copy each time, into one sink
(`bench/sink.py`): once without a key, once with an RSA 2048 key and once with an
Ed25519 key, alternating, `--runs` times. Each run is `invite send --yes --concurrency 16`
as a subprocess, timed from spawn to exit. The medians and the ratios (target: at least
0.8 for each key type) are printed, with the CPU each mail cost the sender.

Run (two to four minutes on 2 cores):

    .venv/bin/python bench/send_dkim.py [--count 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from send_throughput import CONNECTIONS, Timing, time_invite
from sink import SinkProcess
from workspace import (
    bench_env,
    check_quiet,
    make_workspace,
    median,
    message_size,
    ready_languages,
    remove_workspace,
)

from mailer.delivery.dkim import new_key, write_private

TARGET_RATIO = 0.8
KINDS = ("none", "rsa", "ed25519")


def main() -> None:
    parser = argparse.ArgumentParser(description="invite send with and without DKIM")
    parser.add_argument("--count", type=int, default=5000, help="Mails per run.")
    parser.add_argument("--runs", type=int, default=3, help="Repetitions (median reported).")
    args = parser.parse_args()
    count = args.count

    print(check_quiet(), flush=True)
    languages = ready_languages()
    print(f"preparing a workspace of {count} recipients ({', '.join(languages)}) ...", flush=True)
    prepared = make_workspace(count, languages)
    keys = Path(tempfile.mkdtemp(prefix="bench-dkim-"))
    for kind in KINDS[1:]:
        write_private(keys / f"{kind}.pem", new_key(kind)[0])
    timings: dict[str, list[Timing]] = {kind: [] for kind in KINDS}
    with SinkProcess() as sink:
        plain = bench_env(sink.port)
        envs = {"none": plain}
        for kind in KINDS[1:]:
            envs[kind] = {**plain, "INVITE_DKIM_KEY_FILE": str(keys / f"{kind}.pem"),
                          "INVITE_DKIM_SELECTOR": "bench"}
        size = message_size(prepared, plain)
        for run in range(1, args.runs + 1):
            line = [f"run {run}:"]
            for kind in KINDS:
                timing, _ = time_invite(sink, prepared, envs[kind], count, CONNECTIONS)
                timings[kind].append(timing)
                line.append(f"{kind} {count / timing.seconds:5.0f} msg/s "
                            f"({timing.seconds:.2f} s)")
            print("   ".join(line), flush=True)
    remove_workspace(prepared)
    shutil.rmtree(keys)

    rates = {kind: median([count / t.seconds for t in timings[kind]]) for kind in KINDS}
    print()
    print(f"{count} mails per run, medians of {args.runs} runs; languages {', '.join(languages)}; "
          f"one invitation {size} bytes (dry run, unsigned)")
    for kind in KINDS:
        cpu = median([t.client_cpu_ms for t in timings[kind]])
        ratio = rates[kind] / rates["none"]
        verdict = "" if kind == "none" else (
            f"   ratio {ratio:.2f} ({'meets' if ratio >= TARGET_RATIO else 'misses'} "
            f"the target {TARGET_RATIO})")
        print(f"DKIM {kind:<8} {rates[kind]:6.0f} msg/s   sender CPU {cpu:.2f} ms/mail{verdict}")


if __name__ == "__main__":
    main()
