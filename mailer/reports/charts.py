"""Lay out the report's bar charts: where each bar, value and label goes in an SVG.

The template draws the SVG from these numbers (no script, no library in the page), so
the file opens offline and prints as it looks. Every bar is stacked from series that
the template fills with a pattern as well as a colour, and carries its total as text:
the chart reads the same in black and white.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.reports.report_data import Count

# Room for the text around the bars, in SVG units (the image scales to the page's width).
TOP, BOTTOM, LEFT = 22, 34, 8
LABEL_ROW, BAR_ROW, BAR_GAP = 17, 16, 12


@dataclass(frozen=True)
class Segment:
    series: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Bar:
    label: str
    total: int
    segments: list[Segment]
    # Where the label and the total are written.
    label_x: float
    label_y: float
    value_x: float
    value_y: float
    show_label: bool = True


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    series: tuple[str, ...]
    baseline: float


def columns(counts: list[Count], series: tuple[str, ...], width: int = 520,
            height: int = 200) -> Chart:
    """Upright stacked bars, one per count (a day), its total above it; with many bars
    only every n-th label is written so that the labels do not overlap."""
    inner = height - TOP - BOTTOM
    scale = inner / max([count.total for count in counts] + [1])
    slot = (width - 2 * LEFT) / max(len(counts), 1)
    every = max(1, round(len(counts) / 12 + 0.49))
    bars = []
    for index, count in enumerate(counts):
        x = LEFT + index * slot + slot * 0.15
        bar_width = slot * 0.7
        y = float(TOP + inner)
        segments = []
        for name in series:
            value = count.counts.get(name, 0)
            if value:
                y -= value * scale
                segments.append(Segment(name, value, x, y, bar_width, value * scale))
        bars.append(Bar(count.label, count.total, segments, label_x=x + bar_width / 2,
                        label_y=height - BOTTOM + 18, value_x=x + bar_width / 2,
                        value_y=y - 5, show_label=index % every == 0))
    return Chart(width, height, bars, series, baseline=TOP + inner)


def rows(counts: list[Count], series: tuple[str, ...], width: int = 520) -> Chart:
    """Lying stacked bars, one per count (a company), the label written above the bar so a
    long name never has to be cut, the total right of the bar."""
    # Room right of the longest bar for its total and the maybes, e.g. "12 (Vielleicht 3)".
    room = width - 2 * LEFT - 170
    scale = room / max([count.total for count in counts] + [1])
    bars: list[Bar] = []
    y = float(LEFT)
    for count in counts:
        bar_y = y + LABEL_ROW
        x = float(LEFT)
        segments = []
        for name in series:
            value = count.counts.get(name, 0)
            if value:
                segments.append(Segment(name, value, x, bar_y, value * scale, BAR_ROW))
                x += value * scale
        bars.append(Bar(count.label, count.total, segments, label_x=LEFT, label_y=y + 12,
                        value_x=x + 6, value_y=bar_y + BAR_ROW - 3))
        y = bar_y + BAR_ROW + BAR_GAP
    return Chart(width, int(y + LEFT), bars, series, baseline=y)
