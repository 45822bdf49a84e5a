"""The whole loop over real servers: send, follow the link in the mail, answer, export."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.cli.catcher import free_port
from tests.conftest import TEST_KEY
from tests.relay import running_relay
from tests.servers import serving

LINK = re.compile(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+")


@pytest.fixture
def web(workspace: Path) -> Iterator[str]:
    """The real app under a real uvicorn on a free loopback port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(workspace, port, {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": base}):
        yield base


def test_send_follow_the_link_answer_and_export(workspace: Path, web: str, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email;first_name;last_name;salutation;language\n"
                      "jurgen@example.org;Jürgen;Müller;Herr;de\n"
                      "claire@example.org;Claire;Dubois;Mme;fr\n", encoding="utf-8")
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": web}
    runner = CliRunner()
    with running_relay() as (relay, port):
        env |= {"INVITE_SMTP_HOST": "127.0.0.1", "INVITE_SMTP_PORT": str(port)}
        imported = runner.invoke(app, ["import", str(people), "-w", str(workspace)], env=env)
        assert imported.exit_code == 0, imported.output
        sent = runner.invoke(app, ["send", "--yes", "-w", str(workspace)], env=env)
        assert sent.exit_code == 0, sent.output
        [mail] = relay.to("claire@example.org")
    text = mail.parsed().get_body(("plain",)).get_content()
    link = LINK.search(text)
    assert link is not None, text
    with httpx.Client() as client:
        page = client.get(link.group(0))
        assert page.status_code == 200
        assert '<html lang="fr"' in page.text
        answered = client.post(link.group(0), data={"attendance": "yes", "parts": ["symposium"],
                                                    "comment": "À bientôt"})
        assert answered.status_code == 200
        api = client.get(link.group(0).replace("/r/", "/api/responses/"))
        assert api.json()["attendance"] == "yes"
        assert api.json()["answers"]["parts"] == ["symposium"]
    exported = runner.invoke(app, ["export", "--what", "responses", "-w", str(workspace)], env=env)
    assert exported.exit_code == 0
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(exported.stdout.lstrip("\ufeff")))}
    assert rows["claire@example.org"]["attendance"] == "yes"
    assert rows["claire@example.org"]["comment"] == "À bientôt"
    assert rows["jurgen@example.org"]["attendance"] == ""


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    port, smtp_port = free_port(), free_port()
    folder = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "demo", "--port", str(port), "--smtp-port", str(smtp_port),
         "--folder", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "INVITE_SECRET_KEY": TEST_KEY})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the demo stopped early"
            try:
                outbox = httpx.get(f"{base}/outbox")
                if outbox.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not come up"
            time.sleep(0.2)
        links = re.findall(r'href="(http://127\.0\.0\.1:\d+/r/[^"]+)"', outbox.text)
        assert len(links) == 12
        assert httpx.get(f"{base}/outbox/1/html").status_code == 200
        answered = httpx.post(links[0], data={"attendance": "no"})
        assert answered.status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=20)
    status = CliRunner().invoke(app, ["status", "--json", "-w", str(folder)],
                                env={"INVITE_SECRET_KEY": TEST_KEY})
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["answers"]["no"] == 1
