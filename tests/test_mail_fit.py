"""Every mailing fits a phone and a desktop in real headless Chromium, and keeps Outlook's frame.

Each mailing the example workspace can produce, in each language, as composed for a
real recipient (CSS inlined), is laid out at 390 px and 1280 px: nothing may be wider
than the window, and every tap target (button, marked link, link standing alone) is
at least 44 px high. At 320 px without its <style> element (clients that drop it, and
so every media query) it must still fit. Screenshots go to
tests/artifacts/mail-fit/<mailing>-<lang>-<width>.png (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from mailer.content.composer import Composer
from mailer.content.mailings import MAILINGS, Mailing
from tests.mail_samples import LANGUAGES, PEOPLE, Sample, compose_samples, example_composer
from tests.mail_view import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MIN_TAP,
    WIDTHS,
    measure,
    without_style_elements,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "mail-fit"
KINDS = [(mailing, lang) for mailing in MAILINGS for lang in LANGUAGES]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    return {s.name: s for s in compose_samples(tmp_path_factory.mktemp("mail-fit"))}


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_the_samples_cover_every_mailing_and_language(samples: dict[str, Sample]) -> None:
    assert sorted(samples) == sorted(f"{m}-{lang}" for m, lang in KINDS)


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("mailing", "lang"), KINDS)
def test_the_mail_fits_the_window_and_its_taps_a_finger(
        samples: dict[str, Sample], page: Page, mailing: str, lang: str, width: int) -> None:
    html = samples[f"{mailing}-{lang}"].part("html")
    fit = measure(page, html, width)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{mailing}-{lang}-{width}.png"), full_page=True)

    assert fit.scroll_width <= width, f"the page scrolls sideways: {fit.scroll_width} px"
    assert fit.widest_right <= width, f"{fit.widest_name} ends at {fit.widest_right} px"
    # Every mail has at least its unsubscribe link to tap.
    assert any(t.name == "a.tap" for t in fit.targets), fit.targets
    assert fit.small_targets == [], f"tap targets under {MIN_TAP} px: {fit.small_targets}"


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize(("mailing", "lang"), KINDS)
def test_without_media_queries_the_mail_still_fits_a_small_phone(
        samples: dict[str, Sample], page: Page, mailing: str, lang: str) -> None:
    html = without_style_elements(samples[f"{mailing}-{lang}"].part("html"))
    assert "@media" not in html
    fit = measure(page, html, 320)
    assert fit.scroll_width <= 320
    assert fit.widest_right <= 320, f"{fit.widest_name} ends at {fit.widest_right} px"
    assert fit.small_targets == []


@pytest.mark.slow
@needs_chromium
def test_a_long_word_or_address_wraps_instead_of_widening_the_mail(
        samples: dict[str, Sample], page: Page) -> None:
    """What an organiser writes (a long address, a German compound) wraps too: put into
    the real mail's text and its table of key facts, it must not widen the column."""
    word = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenhersteller" * 2
    html = samples["invitation-de"].part("html")
    html, texts = re.subn(r'(<td class="content"[^>]*>)',
                          rf"\1<p>{word}</p><p>https://example.org/{word}</p>", html, count=1)
    html, cells = re.subn(r'(<td class="facts-value[^>]*>)', rf"\1{word} ", html, count=1)
    assert texts == cells == 1
    fit = measure(page, html, 320)
    assert fit.widest_right <= 320, f"{fit.widest_name} ends at {fit.widest_right} px"


@pytest.mark.parametrize(("mailing", "lang"), KINDS)
def test_outlook_gets_a_600_px_table_and_buttons_it_can_pad(
        samples: dict[str, Sample], mailing: str, lang: str) -> None:
    """Word's renderer knows no max-width: a conditional table holds the column to
    600 px, the column itself is 100 % wide, and buttons are padded on their cell."""
    html = samples[f"{mailing}-{lang}"].part("html")
    assert re.search(r'<!--\[if mso\]><table role="presentation" width="600"', html)
    container = re.search(r'<table class="container"[^>]*>', html)
    assert container is not None
    assert 'width="100%"' in container.group(0)
    assert "max-width:600px" in container.group(0)
    assert not re.search(r'width="(?:[6-9]\d\d|\d{4,})"', re.sub(r"<!--.*?-->", "", html,
                                                                 flags=re.DOTALL))
    for cell in re.findall(r'<td class="button-cell"[^>]*>', html):
        assert "mso-padding-alt" in cell and 'bgcolor="#0b4f9c"' in cell
    # No hidden text: what the inbox preview shows is the visible summary line.
    assert "display:none" not in html.replace(" ", "")
    assert "mso-hide" not in html


OVERRIDE_WITH_SUMMARY = """{% extends "mail/_layout.html.j2" %}
{% block preheader %}Short news about {{ event.location }}.{% endblock %}
{% block content %}<p>{{ greeting }}</p>
<p><img src="cid:banner" width="800" height="200" alt="Banner"></p>
<table role="presentation" class="button-table"><tr><td class="button-cell" bgcolor="#0b4f9c">
<a class="button" href="{{ links.answer }}">Reply</a></td></tr></table>{% endblock %}
"""
OVERRIDE_WITHOUT_SUMMARY = """{% extends "mail/_layout.html.j2" %}
{% block content %}<p>{{ greeting }}</p>{% endblock %}
"""


@pytest.mark.slow
@needs_chromium
def test_a_workspace_override_keeps_its_summary_and_its_image_shrinks(
        tmp_path: Path, page: Page) -> None:
    """An organiser's own template: its preheader is the visible summary (none without
    one), and a picture wider than a phone shrinks to the column."""
    with example_composer(tmp_path) as (composer, store):
        own = composer.settings.template_dir / "mail"
        own.mkdir(parents=True, exist_ok=True)
        (own / "update.en.html.j2").write_text(OVERRIDE_WITH_SUMMARY, encoding="utf-8")
        (own / "regret.en.html.j2").write_text(OVERRIDE_WITHOUT_SUMMARY, encoding="utf-8")
        fresh = Composer(composer.settings, composer.event, store)
        john = store.find_recipient(PEOPLE["en"][0])
        update = fresh.render(Mailing("update", 1), john)[0].html
        regret = fresh.render("regret", john)[0].html
    assert re.search(r'<p class="summary" style="[^"]*">Short news about ESTER technology park',
                     update)
    assert 'class="summary"' not in regret and "Dear Mr Smith," in regret
    assert re.search(r'<img [^>]*style="[^"]*max-width:100%', update)
    fit = measure(page, update, 390)
    assert fit.widest_right <= 390, f"{fit.widest_name} ends at {fit.widest_right} px"
    assert fit.small_targets == []
