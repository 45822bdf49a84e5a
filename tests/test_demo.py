"""`invite demo` as someone trying the tool runs it: a real process, ports taken by others,
Ctrl-C to stop, and the caught mails read in Chromium on a phone. Screenshots are kept
in tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.cli.catcher import free_port
from mailer.cli.demo_outbox import MAIL_FRAME_CSP
from rsvp.web.guard import SECURITY_HEADERS
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
OPEN = re.compile(r"Open (http://127\.0\.0\.1:\d+)/outbox")


class Demo:
    """`invite demo` running as its own process, its output collected as it comes."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        tmp.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailer", "demo", *args], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "INVITE_SECRET_KEY": TEST_KEY, "TMPDIR": str(tmp),
                 "COLUMNS": "200"})
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def base(self, timeout: float = 60) -> str:
        """Wait for the line that names the address; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if found := OPEN.search(line):
                    return found.group(1)
            assert self.process.poll() is None, "\n".join(self.lines)
            time.sleep(0.1)
        raise AssertionError("the demo did not come up:\n" + "\n".join(self.lines))

    def stop(self, how: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(how)
        code = self.process.wait(timeout=30)
        self.reader.join(timeout=5)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@contextmanager
def taken(port: int) -> Iterator[None]:
    """Hold `port` on loopback, as another program would (if one already does, fine)."""
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", port))
            holder.listen()
        except OSError:
            pass
        yield


def test_demo_with_its_ports_taken_picks_free_ones_and_cleans_up(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    with taken(8000), taken(8025):
        demo = Demo([], tmp)
        try:
            base = demo.base()
            assert base != "http://127.0.0.1:8000"
            assert len(list(tmp.glob("invite-demo-*"))) == 1
            home = httpx.get(f"{base}/", follow_redirects=False)
            assert home.status_code == 303 and home.headers["location"] == "/outbox"
            assert httpx.get(f"{base}/", follow_redirects=True).url.path == "/outbox"
        finally:
            code = demo.stop(signal.SIGINT)
    output = "\n".join(demo.lines)
    assert code == 0, output
    port = base.rsplit(":", 1)[1]
    assert f"Port 8000 is taken: the web app uses {port} (--port chooses one)." in demo.lines
    assert any(re.fullmatch(r"Port 8025 is taken: the mail catcher uses \d+ "
                            r"\(--smtp-port chooses one\)\.", line) for line in demo.lines)
    assert "Traceback" not in output and demo.lines[-1] == "Demo stopped."
    assert list(tmp.iterdir()) == []


def test_demo_stopped_by_sigterm_removes_its_workspace(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    demo = Demo(["--port", str(free_port()), "--smtp-port", str(free_port())], tmp)
    try:
        demo.base()
    finally:
        code = demo.stop(signal.SIGTERM)
    assert code == 0, "\n".join(demo.lines)
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("flag, what", [("--port", "web app"), ("--smtp-port", "mail catcher")])
def test_demo_with_a_port_it_was_given_taken_says_so(tmp_path: Path, flag: str,
                                                     what: str) -> None:
    tmp = tmp_path / "tmp"
    port = free_port()
    with taken(port):
        demo = Demo([flag, str(port)], tmp)
        code = demo.stop(0)
    assert code == 1
    assert demo.lines == [
        f"Error: port {port} for the {what} is taken by another program",
        f"Hint: Pass {flag} with a free port, or leave {flag} out and the demo picks one."]
    assert list(tmp.iterdir()) == []


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    """A demo on free ports with a workspace kept in tmp_path; (address, SMTP port, folder)."""
    port, smtp_port = free_port(), free_port()
    folder = tmp_path / "demo"
    with ExitStack() as stack:
        demo = Demo(["--port", str(port), "--smtp-port", str(smtp_port), "--folder",
                     str(folder)], tmp_path / "tmp")
        stack.callback(demo.stop)
        yield demo.base(), smtp_port, folder


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_a_caught_mail_looks_as_its_recipient_sees_it_on_a_phone(
        running: tuple[str, int, Path]) -> None:
    from playwright.sync_api import sync_playwright
    base, smtp_port, folder = running
    # A confirmation, with its calendar file, joins the invitations in the catcher.
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": base, "INVITE_SMTP_HOST":
           "127.0.0.1", "INVITE_SMTP_PORT": str(smtp_port), "INVITE_SMTP_TLS": "none"}
    for args in (["record", "juergen.mueller@example.org", "--attendance", "yes",
                  "--answer", "parts=symposium"],
                 ["admit", "juergen.mueller@example.org"],
                 ["send", "--mailing", "confirmation", "--yes"]):
        done = CliRunner().invoke(app, [*args, "-w", str(folder)], env=env)
        assert done.exit_code == 0, done.output
    number = 13

    # The app's strict policy stays on the demo's pages; only the mail document has its own.
    outbox = httpx.get(f"{base}/outbox")
    assert outbox.headers["content-security-policy"] == \
        SECURITY_HEADERS["Content-Security-Policy"]
    document = httpx.get(f"{base}/outbox/{number}/html")
    assert document.headers["content-security-policy"] == MAIL_FRAME_CSP
    ics = httpx.get(f"{base}/outbox/{number}/attachments/1")
    assert ics.headers["content-disposition"] == 'attachment; filename="invite.ics"'
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.content.startswith(b"BEGIN:VCALENDAR")

    ARTIFACTS.mkdir(exist_ok=True)
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.set_default_timeout(5000)
            page.on("console", lambda message: "Content Security Policy" in message.text
                    and refused.append(message.text))
            page.goto(f"{base}/")
            assert page.url == f"{base}/outbox"
            assert page.locator(".mails li").count() == number
            # The page's own styles apply (served from the site, as its policy allows).
            assert page.evaluate("getComputedStyle(document.querySelector('.mails')).listStyleType") \
                == "none"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(ARTIFACTS / "demo-outbox-phone.png"), full_page=True)

            page.locator(f"a.subject[href='/outbox/{number}']").click()
            frame_element = page.locator("iframe.frame")
            sandbox = frame_element.get_attribute("sandbox") or ""
            assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
            assert page.locator("a[download]", has_text="invite.ics").count() == 1
            assert "BEGIN:VCALENDAR" not in page.locator("pre.text").inner_text()
            assert page.locator("dl.headers dt", has_text="Subject").count() == 1
            frame = next(f for f in page.frames if f.url.endswith(f"/outbox/{number}/html"))
            frame.wait_for_load_state()
            # The mail's inline styles apply inside the frame: its grey background.
            assert frame.evaluate("getComputedStyle(document.body).backgroundColor") == \
                "rgb(238, 241, 245)"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(ARTIFACTS / "demo-mail-phone.png"), full_page=True)
        finally:
            browser.close()
    assert refused == []
