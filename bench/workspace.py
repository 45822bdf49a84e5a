"""Helper for the sending benchmarks: a workspace with N synthetic recipients.

`make_workspace(n)` runs `invite init DIR` in a temporary folder, writes a
recipients CSV of N people (`person{i}@example.org`, names with umlauts and
accents, languages mixed over de/fr/en, or only the languages whose invitation
templates exist) and runs `invite import` on it. `bench_env(port)` is the
environment for `invite` runs against the sink on 127.0.0.1.

Not a benchmark itself; to try it by hand:

    .venv/bin/python bench/workspace.py 100
"""

from __future__ import annotations

import csv
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INVITE = ROOT / ".venv" / "bin" / "invite"
MAIL_TEMPLATES = ROOT / "templates" / "mail"
SECRET_KEY = "bench-secret-key-0123456789abcdef"  # 32 characters, fixed so runs compare
BASE_URL = "https://rsvp.example.org"
ALL_LANGUAGES = ("de", "fr", "en")
PARTS = ("subject", "txt", "html")

FIRST = {
    "de": ["Jürgen", "Sabine", "Katrin", "Björn", "Özlem", "Dieter", "Jörg", "Bärbel", "Käthe",
           "Uwe"],
    "fr": ["Hélène", "François", "Zoë", "Amélie", "Jérôme", "Gaëlle", "Loïc", "Céline", "Benoît",
           "Noël"],
    "en": ["Emily", "James", "Siobhán", "Oliver", "Chloë", "Seán", "Harriet", "Renée", "Thomas",
           "Niamh"],
}
LAST = {
    "de": ["Müller", "Schäfer", "Weiß", "Groß", "Köhler", "Schröder", "Bär", "Jäger", "Böhm",
           "Krüger"],
    "fr": ["Lefèvre", "Garçon", "Moreau", "Bézier", "Lemaître", "Dupré", "Chênevert", "Gérard",
           "Rivière", "Faÿ"],
    "en": ["Clarke", "O'Brien", "Smith", "Brontë", "Walsh", "Núñez", "Taylor", "Dvořák", "Evans",
           "Ní Bhriain"],
}
SALUTATION = {"de": ("Herr", "Frau"), "fr": ("M.", "Mme"), "en": ("Mr", "Ms")}
TITLES = ("", "", "Dr.", "", "Prof. Dr.")
ORGANISATIONS = {
    "de": ["Produktionsnetz Süd e.V.", "IKT-Netzwerk Rhein-Main", "Automobilcluster Sachsen",
           "Mikro, Nano & Opto Netzwerk Thüringen e.V.", "Köhler Präzisionsteile GmbH"],
    "fr": ["Réseau Automobile Saar-Lor-Lux", "Pôle Européen de la Céramique",
           "Photonique Limousin", "Mécatronique Oberrhin", "Élan Numérique SAS"],
    "en": ["Digital Networks Hamburg", "Photonics Cluster Ltd", "Advanced Manufacturing Network",
           "Automotive Supply Group", "Nano & Micro Systems Forum"],
}
ROLES = ("network_manager", "company")
SECTORS = ("production", "ict", "automotive", "micro_nano_opto")


def ready_languages() -> tuple[str, ...]:
    """The languages that have all three invitation templates (subject, txt, html)."""
    return tuple(lang for lang in ALL_LANGUAGES
                 if all((MAIL_TEMPLATES / f"invitation.{lang}.{part}.j2").is_file()
                        for part in PARTS))


def bench_env(port: int) -> dict[str, str]:
    """Environment for `invite` against the sink on 127.0.0.1:`port`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("INVITE_")}
    env.update(INVITE_SMTP_HOST="127.0.0.1", INVITE_SMTP_PORT=str(port),
               INVITE_SMTP_TLS="none", INVITE_SECRET_KEY=SECRET_KEY, INVITE_BASE_URL=BASE_URL,
               COLUMNS="100")
    return env


def write_recipients(path: Path, count: int, languages: tuple[str, ...]) -> None:
    """Write a CSV of `count` synthetic people, languages taken in turn."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "salutation", "title",
                         "organisation", "role", "language", "sector"])
        for i in range(count):
            lang = languages[i % len(languages)]
            writer.writerow([
                f"person{i}@example.org",
                FIRST[lang][i % 10], LAST[lang][(i // 10) % 10],
                SALUTATION[lang][i % 2], TITLES[i % len(TITLES)],
                ORGANISATIONS[lang][(i // 3) % 5], ROLES[i % 2], lang,
                SECTORS[(i // 7) % 4],
            ])


def run_invite(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run `invite ARGS`; raise with its output if it fails; return stdout."""
    result = subprocess.run([str(INVITE), *args], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"invite {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}")
    return result.stdout


def make_workspace(count: int, languages: tuple[str, ...] | None = None,
                   parent: Path | None = None) -> Path:
    """Create a workspace with `count` imported recipients; return its folder."""
    langs = languages or ready_languages()
    if not langs:
        raise RuntimeError(f"no language has all invitation templates in {MAIL_TEMPLATES}")
    base = Path(tempfile.mkdtemp(prefix="invite-bench-", dir=parent))
    folder = base / "ws"
    env = bench_env(25)
    run_invite(["init", str(folder)], env)
    csv_path = base / "people.csv"
    write_recipients(csv_path, count, langs)
    run_invite(["import", str(csv_path), "-w", str(folder)], env)
    return folder


def copy_workspace(source: Path) -> Path:
    """A fresh copy of a prepared workspace (nothing sent yet), beside the original."""
    target = Path(tempfile.mkdtemp(prefix="invite-bench-", dir=source.parent.parent)) / "ws"
    shutil.copytree(source, target)
    return target


def remove_workspace(folder: Path) -> None:
    """Delete a workspace made by `make_workspace` or `copy_workspace`."""
    shutil.rmtree(folder.parent, ignore_errors=True)


def message_size(folder: Path, env: dict[str, str], email: str = "person0@example.org") -> int:
    """Bytes of one invitation as `invite preview --out` writes it."""
    out = folder.parent / "preview"
    run_invite(["preview", email, "--out", str(out), "-w", str(folder)], env)
    return sum(path.stat().st_size for path in out.glob("*.eml"))


@dataclass(frozen=True)
class SendRun:
    """One `invite send` process: wall time from spawn to exit, and its peak RSS."""

    seconds: float
    max_rss_kb: int
    cpu_seconds: float
    stdout: str
    stderr: str


TIME_BIN = Path("/usr/bin/time")


def time_send(folder: Path, env: dict[str, str], extra: list[str] | None = None) -> SendRun:
    """Run `invite send --yes [EXTRA] -w FOLDER` as a subprocess and time it.

    Peak RSS comes from `/usr/bin/time -v` when present (its own few MB are not
    counted: it reports the child's maximum), else from RUSAGE_CHILDREN.
    """
    command = [str(INVITE), "send", "--yes", *(extra or []), "-w", str(folder)]
    wrapped = [str(TIME_BIN), "-v", *command] if TIME_BIN.exists() else command
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    result = subprocess.run(wrapped, env=env, capture_output=True, text=True, timeout=600,
                            check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"invite send failed ({result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    if found:
        rss = int(found.group(1))
    else:
        # ru_maxrss of children is the largest child so far; only exact if this one is largest.
        rss = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return SendRun(seconds=seconds, max_rss_kb=rss, cpu_seconds=cpu, stdout=result.stdout,
                   stderr=result.stderr)


def sent_count(stdout: str) -> int:
    """The `sent` figure of `invite send`'s summary table."""
    found = re.search(r"\bsent\b\s*\S\s*(\d+)", stdout)
    if not found:
        raise RuntimeError(f"no 'sent' line in the output of invite send:\n{stdout}")
    return int(found.group(1))


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def _cpu_ticks() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def busy_cores(seconds: float = 1.0) -> float:
    """How many cores other processes keep busy right now (sampled from /proc/stat)."""
    busy0, total0 = _cpu_ticks()
    time.sleep(seconds)
    busy1, total1 = _cpu_ticks()
    cores = os.cpu_count() or 1
    return (busy1 - busy0) / max(1, total1 - total0) * cores


def check_quiet(limit: float = 0.3) -> str:
    """Say how busy the machine is before a benchmark; warn when others use the CPU."""
    busy = busy_cores()
    line = f"machine: {os.cpu_count()} cores, {busy:.2f} busy before start"
    if busy > limit:
        line += " -- WARNING: other processes are using the CPU; figures will be low"
    return line


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    made = make_workspace(size)
    print(f"{made}: {size} recipients in {', '.join(ready_languages())}")
