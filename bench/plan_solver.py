"""Benchmark `invite meetings plan` on generated events of three sizes (issue #11).

For each case: build the workspace (bench/plan_events.py), run `invite meetings plan
--time-limit T` as a subprocess timed from spawn to exit with its peak RSS, then, in
this process, check the stored plan with the independent validator and run the greedy
first-come-first-served baseline on the same problem for the ratio of weighted wishes.

    .venv/bin/python bench/plan_solver.py                 # all three, about 2 minutes
    .venv/bin/python bench/plan_solver.py small medium
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.plan_events import CASES, SECRET_KEY, Case, make_event
from mailer.planner.greedy import greedy_plan
from mailer.planner.validate import plan_problems
from mailer.planner.wishes import collect_problem
from rsvp.config import load_event
from rsvp.meeting_choices import last_run
from rsvp.meetings import LIVE, Placement, all_meetings
from rsvp.settings import load_settings
from rsvp.store import open_store

INVITE = ROOT / ".venv" / "bin" / "invite"


def run_plan(folder: Path, time_limit: float) -> tuple[float, float, str]:
    """Run the command; return (seconds from spawn to exit, peak RSS in MB, its output)."""
    env = {**os.environ, "INVITE_SECRET_KEY": SECRET_KEY}
    began = time.monotonic()
    child = subprocess.Popen([str(INVITE), "meetings", "plan", "--time-limit", str(time_limit),
                              "-w", str(folder)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - began
    if status != 0:
        raise SystemExit(f"invite meetings plan failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def check(case: Case, folder: Path) -> dict[str, object]:
    """Validate the stored plan and compare it with the greedy baseline."""
    settings = load_settings(folder, {"INVITE_SECRET_KEY": SECRET_KEY})
    store = open_store(settings.database)
    try:
        problem = collect_problem(store, load_event(folder / "event.toml"))
        stored = [Placement(m.recipient_id, m.company_id, m.starts_at, m.ends_at, m.table_no)
                  for m in all_meetings(store, LIVE)]
        broken = plan_problems(problem, stored)
        began = time.monotonic()
        greedy = greedy_plan(problem)
        greedy_seconds = time.monotonic() - began
        weights = {(w.person, w.company): w.weight for w in problem.wishes}
        run = last_run(store)
        assert run is not None
        return {"broken": broken, "meetings": len(stored), "run": run,
                "greedy_weight": sum(weights[pair] for pair in greedy),
                "greedy_met": len(greedy), "greedy_seconds": greedy_seconds,
                "plan_weight": sum(weights[(m.recipient_id, m.company_id)] for m in stored)}
    finally:
        store.close()


def main(names: list[str]) -> None:
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} "
          "(1 / 5 min) before start")
    for name in names:
        case = CASES[name]
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_event(case, Path(tmp) / name)
            seconds, rss, output = run_plan(folder, case.time_limit)
            found = check(case, folder)
        run = found["run"]
        details = run.details  # type: ignore[attr-defined]
        print(f"\n== {name}: {case.people} participants, {case.companies} companies, "
              f"{case.wishes} wishes each, --time-limit {case.time_limit:g}")
        print("\n".join(output.splitlines()[:3]))
        print(f"command: {seconds:.1f} s from spawn to exit, peak RSS {rss:.0f} MB")
        print(f"solves ended at (s): {details['milestones']}; status {run.status}, "  # type: ignore[attr-defined]
              f"gap to bound {details['gap']:.3%}, fairness optimal "
              f"{details['fairness_optimal']}, idle optimal {details['idle_optimal']}")
        print(f"validator: {len(found['broken']) or 'no'} broken rules "  # type: ignore[arg-type]
              f"in {found['meetings']} meetings")
        ratio = found["plan_weight"] / max(1, found["greedy_weight"])  # type: ignore[operator]
        print(f"greedy first-come baseline: {found['greedy_met']} meetings, weighted "
              f"{found['greedy_weight']} in {found['greedy_seconds']:.2f} s; plan weighted "
              f"{found['plan_weight']}: ratio {ratio:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
