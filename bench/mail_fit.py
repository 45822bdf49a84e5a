"""The widest element of every mailing at 390 px, in real headless Chromium (#9).

Each mailing the example workspace can produce, in each language, as composed for a
real recipient (see tests/mail_samples.py), is laid out at 390 px: once as sent and
once without its <style> element (as clients that drop it show it, without media
queries). Printed per mailing and language: where the rightmost element ends (px;
at most 390 means nothing runs off a phone's screen), which element that is, the
page's scroll width, and the lowest tap target (px, at least 44 wanted).

Run (about ten seconds):

    .venv/bin/python bench/mail_fit.py [--width 390]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright

from tests.mail_samples import compose_samples
from tests.mail_view import CHROMIUM, CHROMIUM_ARGS, measure, without_style_elements


def main() -> None:
    parser = argparse.ArgumentParser(description="widest element of each mailing at a width")
    parser.add_argument("--width", type=int, default=390)
    width = parser.parse_args().width
    with tempfile.TemporaryDirectory(prefix="mail-fit-") as folder:
        samples = compose_samples(Path(folder))
    print(f"| mailing | widest element at {width} px | element | scroll width "
          f"| without <style> | lowest tap target |")
    print("| --- | --- | --- | --- | --- | --- |")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        worst = 0.0
        for sample in samples:
            html = sample.part("html")
            fit = measure(page, html, width)
            bare = measure(page, without_style_elements(html), width)
            lowest = min((t.height for t in fit.targets), default=0)
            worst = max(worst, fit.widest_right, bare.widest_right)
            print(f"| {sample.name} | {fit.widest_right:g} | {fit.widest_name} "
                  f"| {fit.scroll_width} | {bare.widest_right:g} | {lowest:g} |")
        browser.close()
    verdict = "fits" if worst <= width else "does NOT fit"
    print(f"\nwidest of all: {worst:g} px at a {width} px window: {verdict}")


if __name__ == "__main__":
    main()
