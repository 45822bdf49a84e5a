"""`invite report`: the file the organiser opens, prints and passes on, read as HTML and in
Chromium. Screenshots and a PDF of it are kept in tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from rsvp.bounces import HARD, BounceRecord, record_bounces
from rsvp.settings import load_settings
from rsvp.store import open_store
from tests.conftest import BASE_URL, TEST_KEY
from tests.relay import running_relay

ENV = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": BASE_URL}
REFUSED = "katrin.weiss@example.com"
REFUSAL = "550 5.1.1 <katrin.weiss@example.com>: mailbox unknown"
BOUNCED = "thomas.gross@example.net"
BOUNCE = "550 5.1.1 <thomas.gross@example.net>: no such user"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def invite(*args: str, env: dict[str, str] | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=ENV | (env or {}))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example event after a send (one address refused) and answers over three days."""
    folder = tmp_path_factory.mktemp("report") / "limoges"
    invite("init", str(folder))
    invite("import", str(folder / "recipients.csv"), "-w", str(folder))
    with running_relay() as (relay, port):
        relay.refuse_rcpt[REFUSED] = REFUSAL
        invite("send", "--yes", "-w", str(folder),
               env={"INVITE_SMTP_HOST": "127.0.0.1", "INVITE_SMTP_PORT": str(port)}, code=1)
    store = open_store(load_settings(folder, ENV).database)
    answers = [("juergen.mueller@example.org", "yes", ["symposium", "brokerage"], ["cilas", "kreon"], 1),
               ("sabine.schaefer@ikt-netz.example.org", "yes", ["symposium"], ["cilas"], 1),
               ("thomas.gross@example.net", "no", [], [], 2),
               ("zoe.moreau@example.org", "maybe", ["brokerage"], ["kreon"], 4)]
    try:
        for email, attendance, parts, meet, day in answers:
            person = store.find_recipient(email)
            chosen = {"parts": parts, "meet": meet} if parts else {}
            store.record_answer(person.id, attendance, chosen, "web",
                                now=datetime(2027, 3, day, 10, tzinfo=UTC))
        gone = store.find_recipient(BOUNCED).id
        record_bounces(store, [BounceRecord("k1", HARD, gone, None, "5.1.1", BOUNCE)], 3,
                       now=datetime(2027, 3, 2, 9, tzinfo=UTC))
    finally:
        store.close()
    invite("admit", "juergen.mueller@example.org", "-w", str(folder))
    yield folder


def words(page: str) -> str:
    """The page's text as a reader sees it: no styles, no tags, entities read, spaces folded."""
    body = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(body))


def write(campaign: Path, name: str, *more: str) -> str:
    target = campaign.parent / name
    output = invite("report", "-o", str(target), "-w", str(campaign), *more)
    assert f"Wrote {target}" in output
    return target.read_text(encoding="utf-8")


def test_the_report_tells_the_campaign_in_the_events_language(campaign: Path) -> None:
    page = write(campaign, "limoges.html")
    assert '<html lang="de">' in page
    assert "Bericht: Internationalisierung von Clustern" in page
    text = words(page)
    # Mails per state: 12 queued for invitation, 11 sent, 1 refused for good.
    assert re.search(r"Einladung (\d+ ){2}11 (\d+ ){1}1 \d+ 12", text), text
    # The refusal with the relay's reply, and the people whose address bounced later.
    assert "Katrin Weiß" in text and REFUSAL in text
    bounces = words(page.split("Unzustellbare Mails (Bounces) (1)", 1)[1].split("</section>")[0])
    assert f"Thomas Groß {BOUNCED} 02.03.2027 {BOUNCE}" in bounces
    # Places per role: two network managers said yes, one admitted, one place left.
    assert re.search(r"Netzwerkmanagement 2 2 1 1 0", text), text
    # Answers over time: a chart with a bar per day from 1 to 4 March, the gap kept.
    timeline = re.search(r'<svg class="chart"[^>]*aria-labelledby="timeline-title.*?</svg>',
                         page, re.DOTALL)
    assert timeline is not None
    assert "<title id=\"timeline-title\">Antworten im Zeitverlauf</title>" in timeline.group(0)
    assert re.findall(r'class="label"[^>]*>([^<]+)<', timeline.group(0)) == [
        "1.3.", "2.3.", "3.3.", "4.3."]
    # Brokerage wishes: a bar per company, with its count written beside it.
    wishes = re.search(r'<svg class="chart"[^>]*aria-labelledby="wishes-title.*?</svg>', page,
                       re.DOTALL)
    assert wishes is not None
    assert ">Cilas</text>" in wishes.group(0)
    assert re.search(r">Kreon</text>.*?class=\"value\">2 \(Vielleicht 1\)</text>",
                     wishes.group(0), re.DOTALL)
    # Who has not answered: the silent, not those who answered.
    silent = page.split('id="h-silent"', 1)[1]
    assert "Noch nicht geantwortet (8)" in text
    assert "katrin.weiss@example.com" in silent and "thomas.gross@example.net" not in silent
    # Self-contained: nothing to load from anywhere.
    assert not re.search(r"<script|<link|<img|@import|\bsrc=|url\((?!#)", page), page


def test_the_report_in_another_language_and_a_bad_one(campaign: Path) -> None:
    page = write(campaign, "limoges-fr.html", "--language", "fr")
    assert '<html lang="fr">' in page and "Bilan : Internationalisation des clusters" in page
    assert "Retours (bounces) (1)" in words(page)
    result = CliRunner().invoke(app, ["report", "-o", str(campaign.parent / "x.html"),
                                      "--language", "it", "-w", str(campaign)], env=ENV)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: the report has no texts in 'it'; choose one of de, fr, en",
        "Hint: Pass --language de, fr or en."]


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_report_opens_offline_in_chromium(campaign: Path) -> None:
    from playwright.sync_api import sync_playwright
    write(campaign, "limoges.html")
    target = (campaign.parent / "limoges.html").as_uri()
    ARTIFACTS.mkdir(exist_ok=True)
    asked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            # Every request but the file itself is recorded and refused.
            context.route("**/*", lambda route: route.continue_() if route.request.url == target
                          else route.abort())
            page = context.new_page()
            page.on("request", lambda request: request.url != target and asked.append(
                request.url))
            page.set_default_timeout(5000)
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(target)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                charts = page.locator("svg.chart[role=img]")
                assert charts.count() == 2
                for index in range(2):
                    box = charts.nth(index).bounding_box()
                    assert box is not None and box["width"] > 300 and box["height"] > 50
                    assert charts.nth(index).locator("title").count() > 0
                page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=True)
            # As printed: A4's width at 96 dpi, the print styles on.
            page.emulate_media(media="print")
            page.set_viewport_size({"width": 794, "height": 1123})
            assert page.evaluate("document.documentElement.scrollWidth") <= 794
            page.screenshot(path=str(ARTIFACTS / "report-print.png"), full_page=True)
            pdf = page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4",
                           print_background=True)
            assert pdf.startswith(b"%PDF")
        finally:
            browser.close()
    assert asked == []
    print(f"screenshots and PDF in {ARTIFACTS}")
