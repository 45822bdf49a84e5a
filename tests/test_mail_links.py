"""The text and the HTML part of every mailing carry the same links, each as often.

Filters compare the two parts: rspamd's URI_COUNT_ODD fires when the links of a
multipart/alternative mail add up to an odd number (one part has a link the other
lacks), and a link only in the HTML looks like a hidden one. So, for every mailing and
language: the web addresses in the text part, counted, equal the web addresses the HTML
links to or shows; every address the HTML offers to write to (`mailto:`) is written out
in the text too.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import pytest

from mailer.content.mailings import MAILINGS
from tests.mail_samples import LANGUAGES, Sample, compose_samples

WEB = re.compile(r"https?://[^\s<>\"']+")
ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class _Links(HTMLParser):
    """The web addresses an HTML document links to or shows, and its mailto: addresses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.web: Counter[str] = Counter()
        self.mailto: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                if value.startswith("mailto:"):
                    self.mailto.add(value.removeprefix("mailto:"))
                else:
                    self.web[value] += 1

    def handle_data(self, data: str) -> None:
        self.web.update(_web(data))


def _web(text: str) -> list[str]:
    return [url.rstrip(".,;:)") for url in WEB.findall(text)]


def links_of(text: str, html: str) -> tuple[Counter[str], Counter[str], set[str], set[str]]:
    """(text web links, HTML web links, text addresses, HTML mailto addresses)."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    return Counter(_web(text)), parser.web, set(ADDRESS.findall(text)), parser.mailto


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    return {s.name: s for s in compose_samples(tmp_path_factory.mktemp("links"))}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("mailing", MAILINGS)
def test_both_parts_carry_the_same_links(samples: dict[str, Sample], mailing: str,
                                         lang: str) -> None:
    sample = samples[f"{mailing}-{lang}"]
    text_web, html_web, text_addresses, html_mailto = links_of(sample.part("plain"),
                                                               sample.part("html"))
    assert text_web, "a mailing without its unsubscribe link"
    assert text_web == html_web, (f"only in the text: {text_web - html_web}; "
                                  f"only in the HTML: {html_web - text_web}")
    assert html_mailto <= text_addresses, f"mailto only in the HTML: {html_mailto - text_addresses}"


def test_a_link_only_in_one_part_or_twice_in_one_is_found(samples: dict[str, Sample]) -> None:
    """The check itself: an extra link, or the same link shown once more, is told."""
    sample = samples["invitation-en"]
    text, html = sample.part("plain"), sample.part("html")
    extra = html.replace("</body>", '<a href="https://example.org/x">x</a></body>')
    text_web, html_web, _, _ = links_of(text, extra)
    assert html_web - text_web == Counter({"https://example.org/x": 1})
    answer = next(url for url in text_web if "/r/" in url)
    shown = html.replace("</body>", f"<p>{answer}</p></body>")
    text_web, html_web, _, _ = links_of(text, shown)
    assert html_web - text_web == Counter({answer: 1})
