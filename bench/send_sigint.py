"""How fast `invite send` ends after Ctrl-C: 10 trials, 2,000 recipients, a 20 ms relay.

What it measures (issue #8, "the sender stops cleanly"): the sink (`bench/sink.py
--delay 0.02`, its own process on 127.0.0.1) answers each message after 20 ms.
Each trial runs `invite send --yes` (default settings, concurrency 8) on a fresh copy
of a prepared workspace of 2,000 recipients, waits until the sink has taken
`--after` mails, sends SIGINT once and times the process from the signal to its
exit. A process still running 30 s after the signal counts as a hang: it is killed
and reported. It also checks the exit code (130) and that the summary was printed.
Median and worst of the trials are printed.

Run (about a minute):

    .venv/bin/python bench/send_sigint.py [--count 2000] [--delay 0.02] [--runs 10]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import time

from sink import SinkProcess
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

HANG_SECONDS = 30.0


def trial(sink: SinkProcess, folder: str, env: dict[str, str], after: int) -> tuple[float, str]:
    """One run stopped by SIGINT once `after` more mails reached the sink; return the
    seconds from the signal to the exit, and a note on anything wrong."""
    before = sink.count()
    process = subprocess.Popen([str(INVITE), "send", "--yes", "-w", folder], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while sink.count() - before < after:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"invite send ended or stalled before {after} mails: "
                               f"{process.communicate()[0]}")
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    try:
        output = process.communicate(timeout=HANG_SECONDS)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return HANG_SECONDS, f"HANG: still running {HANG_SECONDS:.0f} s after SIGINT, killed"
    seconds = time.monotonic() - start
    notes = []
    if process.returncode != 130:
        notes.append(f"exit code {process.returncode}")
    if "this run" not in output:
        notes.append("no summary")
    return seconds, ", ".join(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description="invite send: exit time after Ctrl-C")
    parser.add_argument("--count", type=int, default=2000, help="Recipients.")
    parser.add_argument("--delay", type=float, default=0.02, help="Relay seconds per message.")
    parser.add_argument("--runs", type=int, default=10, help="Trials.")
    parser.add_argument("--after", type=int, default=400,
                        help="Mails the sink has taken when SIGINT is sent.")
    args = parser.parse_args()
    print(check_quiet(), flush=True)
    prepared = make_workspace(args.count, ready_languages())
    times: list[float] = []
    problems = 0
    with SinkProcess(delay=args.delay) as sink:
        env = bench_env(sink.port)
        for run in range(1, args.runs + 1):
            folder = copy_workspace(prepared)
            try:
                seconds, note = trial(sink, str(folder), env, args.after)
            finally:
                remove_workspace(folder)
            times.append(seconds)
            problems += bool(note)
            print(f"run {run:2d}: exit {seconds * 1000:7.0f} ms after SIGINT"
                  + (f"   {note}" if note else ""), flush=True)
    remove_workspace(prepared)
    print()
    print(f"{args.count} recipients, relay {args.delay * 1000:.0f} ms per mail, SIGINT after "
          f"{args.after} mails, {args.runs} runs")
    print(f"exit after SIGINT: median {median(times) * 1000:.0f} ms, worst "
          f"{max(times) * 1000:.0f} ms; runs with a problem: {problems}")


if __name__ == "__main__":
    main()
