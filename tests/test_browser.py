"""What a person sees: the link from a received mail, in real headless Chromium on a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright
from typer.testing import CliRunner

from mailer.cli import app as cli
from mailer.cli.catcher import free_port
from rsvp.i18n import catalogue
from rsvp.settings import load_settings
from rsvp.store import open_store
from tests.conftest import TEST_KEY
from tests.relay import running_relay
from tests.servers import serving

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)"),
]
# Without the networking flags Chromium keeps calling home, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE: ViewportSize = {"width": 360, "height": 740}
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_.\-]+")
PEOPLE = ("email,first_name,last_name,salutation,organisation,role,language,sector\n"
          "claire.dubois@example.org,Claire,Dubois,Mme,Pôle Céramique,network_manager,fr,"
          "production\n"
          "juergen@example.org,Jürgen,Müller,Herr,Produktionsnetz,network_manager,de,"
          "production\n")
FR = catalogue("fr")

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter(el => !['hidden', 'submit'].includes(el.type) && el.labels.length === 0)
    .map(el => el.name || el.id)"""


@dataclass
class Site:
    """The example workspace served by a real uvicorn on a free loopback port."""

    workspace: Path
    base: str
    env: dict[str, str]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    workspace = tmp_path / "limoges"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"INVITE_SECRET_KEY": TEST_KEY, "INVITE_BASE_URL": base}
    made = CliRunner().invoke(cli, ["init", str(workspace)], env=env)
    assert made.exit_code == 0, made.output
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    imported = CliRunner().invoke(cli, ["import", str(people), "-w", str(workspace)], env=env)
    assert imported.exit_code == 0, imported.output
    with serving(workspace, port, env):
        yield Site(workspace, base, env)


def invitation_link(site: Site, address: str) -> str:
    """Send the invitations through a real SMTP relay; return the link in `address`'s mail."""
    with running_relay() as (relay, port):
        env = site.env | {"INVITE_SMTP_HOST": "127.0.0.1", "INVITE_SMTP_PORT": str(port)}
        sent = CliRunner().invoke(cli, ["send", "--yes", "-w", str(site.workspace)], env=env)
        assert sent.exit_code == 0, sent.output
        [mail] = relay.to(address)
    text = mail.parsed().get_body(("plain",)).get_content()
    found = LINK.search(text)
    assert found is not None, text
    return found.group(0)


def test_answer_from_the_mail_on_a_phone(site: Site) -> None:
    link = invitation_link(site, "claire.dubois@example.org")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=PHONE, locale="fr-FR")
            page.set_default_timeout(5000)
            page.goto(link)

            # The page as it first appears.
            assert page.get_attribute("html", "lang") == "fr"
            assert page.evaluate(UNLABELLED) == []
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            page.screenshot(path=str(ARTIFACTS / "form-phone.png"), full_page=True)
            submit = page.locator("form button[type=submit]").first

            # Nothing chosen: Chromium's own check stops the form before it is sent ...
            submit.click()
            assert page.evaluate("document.querySelector('#f-attendance-yes').validity"
                                 ".valueMissing") is True
            assert page.locator("[role=alert]").count() == 0
            # ... and a browser without that check gets the server's answer.
            page.evaluate("document.querySelector('form').noValidate = true")
            submit.click()
            summary = page.locator(".error-summary[role=alert]")
            expect(summary).to_be_visible()
            expect(summary).to_contain_text(FR.t("errors.attendance"))
            expect(page.locator("#e-attendance")).to_have_text(FR.t("errors.attendance"))
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            # Yes without the required parts: the field error names what is missing.
            page.evaluate("document.querySelector('form').noValidate = true")
            page.check("#f-attendance-yes")
            page.locator("form button[type=submit]").first.click()
            expect(page.locator("#e-parts")).to_have_text(FR.t("errors.required"))
            expect(page.locator(".error-summary[role=alert] a[href='#f-parts']")).to_be_visible()

            page.check("#f-attendance-yes")
            page.check("#f-parts-symposium")
            page.check("#f-parts-brokerage")
            page.fill("#f-comment", "À bientôt à Limoges")
            # The nomination fields come from another piece of work; use them once they exist.
            nominating = page.locator("[name=nominee_email]").count() > 0
            if nominating:
                page.fill("[name=nominee_name]", "Luc Martin")
                page.fill("[name=nominee_email]", "luc.martin@example.org")
                page.fill("[name=nominee_organisation]", "Céramiques Martin SARL")
                choose_role(page)
            page.locator("form button[type=submit]").first.click()

            recorded = page.locator("main")
            expect(page.locator("h1")).to_have_text(FR.t("page.recorded_heading"))
            expect(recorded).to_contain_text(FR.t("page.attendance_yes"))
            expect(recorded).to_contain_text("Symposium (2e jour)")
            expect(recorded).to_contain_text("Bourse d’affaires (2e jour)")
            expect(recorded).to_contain_text("À bientôt à Limoges")
            if nominating:
                expect(recorded).to_contain_text("Luc Martin")
            assert page.get_attribute("html", "lang") == "fr"
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        finally:
            browser.close()

    store = open_store(load_settings(site.workspace, site.env).database)
    try:
        claire = store.find_recipient("claire.dubois@example.org")
        response = store.response(claire.id)
        assert response is not None and response.source == "web"
        assert response.attendance == "yes"
        assert response.answers["parts"] == ["symposium", "brokerage"]
        assert response.answers["comment"] == "À bientôt à Limoges"
        if nominating:
            assert store.find_recipient("luc.martin@example.org").nominated_by == claire.id
    finally:
        store.close()


def choose_role(page: Page) -> None:
    """Pick the nominee's role, whether the form offers it as a list or as radio buttons."""
    select = page.locator("select[name=nominee_role]")
    radios = page.locator("input[type=radio][name=nominee_role]")
    if select.count():
        values = [v for v in select.locator("option").evaluate_all(
            "options => options.map(o => o.value)") if v]
        select.select_option("company" if "company" in values else values[0])
    elif radios.count():
        company = page.locator("input[type=radio][name=nominee_role][value=company]")
        (company if company.count() else radios.first).check()
