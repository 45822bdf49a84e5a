"""What a mail's HTML looks like in real headless Chromium: how wide it runs, how big its taps are.

Shared by tests/test_mail_fit.py and bench/mail_fit.py. The HTML is loaded with
`set_content` (nothing is fetched: the mails load nothing) at a given viewport width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps calling home, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = (390, 1280)
MIN_TAP = 44  # px: Apple's and WCAG 2.5.5's smallest comfortable target

# A tap target is a button, a link marked `tap`, or a link that stands alone in its
# paragraph or cell (nothing else to read there): links inside a sentence are not.
MEASURE = """() => {
  const name = el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className)
      .trim().split(/\\s+/).join('.') : '');
  let widest = {right: 0, name: ''};
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > widest.right) widest = {right: box.right, name: name(el)};
  }
  const alone = a => {
    const block = a.closest('p, td, li, div');
    return block !== null && block.innerText.trim() === a.innerText.trim();
  };
  const targets = Array.from(document.querySelectorAll('a[href], button'))
    .filter(el => el.matches('.button, .tap, button') || alone(el))
    .map(el => ({name: name(el), text: el.innerText.trim(),
                 height: el.getBoundingClientRect().height}));
  return {scrollWidth: document.documentElement.scrollWidth,
          bodyScrollWidth: document.body.scrollWidth, widest, targets};
}"""


@dataclass(frozen=True)
class Target:
    name: str
    text: str
    height: float


@dataclass(frozen=True)
class Fit:
    """How one mail lays out at one viewport width."""

    width: int
    scroll_width: int
    widest_right: float
    widest_name: str
    targets: tuple[Target, ...]

    @property
    def small_targets(self) -> list[Target]:
        return [t for t in self.targets if t.height < MIN_TAP]


def measure(page: Page, html: str, width: int, height: int = 800) -> Fit:
    """Lay `html` out at `width` px on the Playwright `page` and measure it."""
    page.set_viewport_size({"width": width, "height": height})
    page.set_content(html, wait_until="load")
    found = page.evaluate(MEASURE)
    return Fit(width=width,
               scroll_width=max(found["scrollWidth"], found["bodyScrollWidth"]),
               widest_right=round(found["widest"]["right"], 1),
               widest_name=found["widest"]["name"],
               targets=tuple(Target(t["name"], t["text"], t["height"])
                             for t in found["targets"]))


def without_style_elements(html: str) -> str:
    """The HTML as a client that drops <style> (and so every media query) shows it."""
    return re.sub(r"<style\b.*?</style>", "", html, flags=re.DOTALL | re.IGNORECASE)
