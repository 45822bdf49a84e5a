"""Answers per second of `invite serve` against a minimal FastAPI app, under wrk.

What it runs, in this order, each for `--duration` seconds (wrk, one thread, links
spread round-robin over all recipients so no two requests in a row share a link):

* minimal (bench/web_minimal.py, one uvicorn worker, uvloop, httptools, no access
  log): answers (POST /r/{token} as a form and PUT /api/responses/{token} as JSON,
  alternating) and GET /r/{token}, at 16 connections;
* `invite serve --workers 1` for the example workspace with `--recipients` people
  and INVITE_RATE_LIMIT=off: the same answers and GET /r/{token} (the full form);
* `invite serve --workers 2` on a fresh copy of that workspace: answers at 64
  connections.

Every answer is a real change (yes, the required part "symposium" and a comment
unique to the request), so each one writes a response row and a history row.
Afterwards it checks the databases: stored answers == distinct links answered,
invite's history rows between the requests answered 200 and those issued, and no
"database is locked" (nor any traceback) in invite's log. It prints the figures,
the ratios to the minimal app and the issue's targets.

It waits while a sending benchmark (bench/send_*) runs, so figures are not skewed.
Needs wrk (`apt-get install -y wrk`). About a minute:

    .venv/bin/python bench/web_answers.py [--recipients 2000] [--duration 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
INVITE = ROOT / ".venv" / "bin" / "invite"
SECRET_KEY = "bench-web-secret-key-0123456789ab"
HOST = "127.0.0.1"

sys.path.insert(0, str(ROOT))
from mailer.cli.catcher import free_port
from rsvp.store import open_store
from rsvp.tokens import ANSWER, LinkSigner

# One wrk thread: the server under test gets the other core to itself.
LUA = r"""
local tokens = {}
local threads = {}
counter = 0
bad = 0
first_bad = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  mode = args[2]
  nthreads = tonumber(args[3])
  ntokens = #tokens
end

local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
local json = {["Content-Type"] = "application/json"}

function request()
  local k = counter
  counter = counter + 1
  local token = tokens[(id + k * nthreads) % ntokens + 1]
  if mode == "get" then
    return wrk.format("GET", "/r/" .. token)
  end
  local note = "w" .. id .. "-" .. k
  if k % 2 == 0 then
    return wrk.format("POST", "/r/" .. token, form,
                      "attendance=yes&parts=symposium&comment=" .. note)
  end
  return wrk.format("PUT", "/api/responses/" .. token, json,
                    '{"attendance": "yes", "answers": {"parts": ["symposium"], "comment": "'
                    .. note .. '"}}')
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if first_bad == 0 then first_bad = status end
  end
end

function done(summary, latency, requests)
  local issued, bads, firsts = {}, 0, 0
  for _, t in ipairs(threads) do
    issued[#issued + 1] = t:get("id") .. ":" .. t:get("counter")
    bads = bads + t:get("bad")
    if firsts == 0 then firsts = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"not_200": %d, "first_not_200": %d, "issued": "%s", "threads": %d, "tokens": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, bads, firsts,
    table.concat(issued, ","), #threads, threads[1]:get("ntokens")))
end
"""


@dataclass(frozen=True)
class Load:
    """What wrk reported for one run, plus the links its requests used."""

    name: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    not_200: int
    first_not_200: int
    issued: int
    distinct_links: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wait_for_quiet() -> None:
    """Wait while another benchmark (bench/send_*) runs: two cores are easily skewed."""
    told = False
    while subprocess.run(["pgrep", "-f", "bench/send_"], capture_output=True,
                         check=False).returncode == 0:
        if not told:
            print("waiting for a running bench/send_* to finish ...", flush=True)
            told = True
        time.sleep(5)


def make_workspace(base: Path, count: int) -> Path:
    """`invite init`, then `invite import` of `count` people; return the folder."""
    folder = base / "ws"
    env = invite_env()
    subprocess.run([str(INVITE), "init", str(folder)], env=env, check=True, capture_output=True)
    people = base / "people.csv"
    with people.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "salutation", "organisation",
                         "role", "language"])
        for i in range(count):
            lang = ("de", "fr", "en")[i % 3]
            writer.writerow([f"person{i}@example.org", "Käthe", f"Müller-{i}",
                             ("Frau", "Mme", "Ms")[i % 3], "Netzwerk e.V.",
                             ("network_manager", "company")[i % 2], lang])
    subprocess.run([str(INVITE), "import", str(people), "-w", str(folder)], env=env,
                   check=True, capture_output=True)
    return folder


def write_tokens(folder: Path, path: Path) -> int:
    """Write one answer token per recipient, one a line; return how many."""
    store = open_store(folder / "invite.db")
    try:
        signer = LinkSigner((SECRET_KEY,))
        tokens = [signer.sign(ANSWER, r.id, store.event_id, r.token_version)
                  for r in store.recipients()]
    finally:
        store.close()
    path.write_text("\n".join(tokens) + "\n", encoding="ascii")
    return len(tokens)


def invite_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVITE_")}
    return env | {"INVITE_SECRET_KEY": SECRET_KEY, "INVITE_BASE_URL": "https://rsvp.example.org",
                  "INVITE_SMTP_HOST": HOST, "INVITE_SMTP_PORT": "9"} | extra


@contextmanager
def server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[int]:
    """Run a server in its own process group until the block ends; yield its pid."""
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} stopped:\n{log.read_text(encoding='utf-8')}")
            try:
                if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not come up")
            time.sleep(0.1)
        time.sleep(1)  # let every worker finish starting
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wrk(name: str, port: int, mode: str, tokens: Path, connections: int, duration: int,
        script: Path) -> Load:
    """Run wrk once and read the RESULT line its Lua `done` prints."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s",
         str(script), f"http://{HOST}:{port}", "--", str(tokens), mode, "1"],
        capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    links: set[int] = set()
    issued = 0
    for part in data["issued"].split(","):
        thread, count = (int(x) for x in part.split(":"))
        issued += count
        links.update((thread + k * data["threads"]) % data["tokens"] for k in range(count))
    errors = sum(data[k] for k in ("connect", "read", "write", "timeout"))
    return Load(name=name, connections=connections, requests=data["requests"],
                seconds=data["seconds"], p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000, errors=errors, not_200=data["not_200"],
                first_not_200=data["first_not_200"], issued=issued,
                distinct_links=len(links) if mode != "get" else 0)


def count_rows(database: Path, table: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def check_invite(load: Load, database: Path, log: Path, history_before: int) -> list[str]:
    """Return what is wrong with a run of answers against invite (empty if nothing)."""
    problems = []
    answers = count_rows(database, "responses")
    history = count_rows(database, "response_history") - history_before
    ok = load.requests - load.not_200
    if answers != load.distinct_links:
        problems.append(f"{answers} stored answers for {load.distinct_links} links answered")
    if not ok <= history <= load.issued:
        problems.append(f"{history} history rows for {ok} answers confirmed, {load.issued} sent")
    text = log.read_text(encoding="utf-8")
    for needle in ("database is locked", "Traceback"):
        if needle in text:
            problems.append(f"{needle!r} in the server log")
    if load.errors or load.not_200:
        problems.append(f"{load.errors} socket errors, {load.not_200} answers not 200 "
                        f"(first {load.first_not_200})")
    print(f"  check {load.name}: {answers} stored answers, {load.distinct_links} links answered, "
          f"{history} history rows for {ok} confirmed / {load.issued} sent: "
          f"{'; '.join(problems) or 'all good'}", flush=True)
    return problems


def show(load: Load) -> None:
    print(f"  {load.name:<34} {load.rps:8.0f} req/s  p50 {load.p50_ms:6.1f} ms  "
          f"p99 {load.p99_ms:6.1f} ms  errors {load.errors}  not 200: {load.not_200}", flush=True)


def versions() -> str:
    import fastapi
    import starlette
    import uvicorn
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 platform.processor())
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                                 check=False).stdout.split()[1]
    return (f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
            f"uvicorn {uvicorn.__version__}, FastAPI {fastapi.__version__}, "
            f"Starlette {starlette.__version__}, SQLite {sqlite3.sqlite_version}, "
            f"wrk {wrk_version}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("Error: wrk is missing. Hint: apt-get install -y wrk", file=sys.stderr)
        return 1
    wait_for_quiet()
    print(versions(), flush=True)
    base = Path(tempfile.mkdtemp(prefix="invite-web-bench-"))
    try:
        return run(base, args.recipients, args.duration)
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def run(base: Path, recipients: int, duration: int) -> int:
    script = base / "answers.lua"
    script.write_text(LUA, encoding="utf-8")
    folder = make_workspace(base, recipients)
    fresh = base / "fresh"
    shutil.copytree(folder, fresh)
    tokens = base / "tokens.txt"
    count = write_tokens(folder, tokens)
    print(f"workspace with {count} recipients; {duration} s per run, wrk -t1", flush=True)
    problems: list[str] = []
    uvicorn_flags = ["--loop", "uvloop", "--http", "httptools", "--no-access-log",
                     "--log-level", "warning", "--workers", "1"]

    port = free_port()
    minimal_db = base / "minimal.db"
    env = os.environ | {"BENCH_DB": str(minimal_db), "BENCH_KEY": SECRET_KEY}
    with server([str(PYTHON), "-m", "uvicorn", "--app-dir", str(BENCH), "web_minimal:app",
                 "--host", HOST, "--port", str(port), *uvicorn_flags], env, port,
                base / "minimal.log"):
        min_post = wrk("minimal answers, 16 conn.", port, "answers", tokens, 16, duration, script)
        show(min_post)
        min_get = wrk("minimal GET, 16 conn.", port, "get", tokens, 16, duration, script)
        show(min_get)
    stored = count_rows(minimal_db, "responses")
    print(f"  check minimal: {stored} stored answers, {min_post.distinct_links} links answered",
          flush=True)

    port = free_port()
    log = base / "invite-1.log"
    serve = [str(INVITE), "serve", "--host", HOST, "--port", str(port)]
    with server([*serve, "--workers", "1", "-w", str(folder)], invite_env(INVITE_RATE_LIMIT="off"),
                port, log):
        post = wrk("invite answers, 16 conn., 1 worker", port, "answers", tokens, 16, duration,
                   script)
        show(post)
        problems += check_invite(post, folder / "invite.db", log, 0)
        get = wrk("invite GET form, 16 conn., 1 worker", port, "get", tokens, 16, duration,
                  script)
        show(get)
    if get.errors or get.not_200:
        problems.append(f"GET: {get.errors} errors, {get.not_200} not 200")

    port = free_port()
    log = base / "invite-2.log"
    serve = [str(INVITE), "serve", "--host", HOST, "--port", str(port)]
    with server([*serve, "--workers", "2", "-w", str(fresh)], invite_env(INVITE_RATE_LIMIT="off"),
                port, log):
        wide = wrk("invite answers, 64 conn., 2 workers", port, "answers", tokens, 64, duration,
                   script)
        show(wide)
    problems += check_invite(wide, fresh / "invite.db", log, 0)

    targets = [
        ("answers >= 0.6 x minimal answers", post.rps / min_post.rps, 0.6, True),
        ("answers p99 <= 2 x minimal p99", post.p99_ms / min_post.p99_ms, 2.0, False),
        ("GET form >= 0.5 x minimal GET", get.rps / min_get.rps, 0.5, True),
    ]
    print("targets:")
    for label, ratio, bound, at_least in targets:
        met = ratio >= bound if at_least else ratio <= bound
        print(f"  {label:<34} {ratio:5.2f}  {'met' if met else 'MISSED'}")
        if not met:
            problems.append(f"{label}: {ratio:.2f}")
    print("problems: " + ("; ".join(problems) if problems else "none"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
