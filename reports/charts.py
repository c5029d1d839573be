"""Server-rendered SVG charts: no JavaScript, no CDN, readable when printed, and described
for screen readers (<title> and <desc>, role="img")."""

import functools
import json
import math
from pathlib import Path

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK = "#1f2933"
BAR = "#2b5f8a"
GRID = "#d9e2ec"


def _number(value: int) -> str:
    return number_format(value, 0, force_grouping=True)


def _frame(chart_id: str, title: str, items, width: int, height: int, body: list[str]) -> str:
    # Drawn small (480 units wide, 14-unit type) and shown up to 576 px: on a 375 px phone its
    # words are still 11 px high. The title is drawn too: a downloaded chart says what it is.
    description = "; ".join(f"{label}: {_number(value)}" for label, value in items)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {width} {height + 28}" width="100%" style="max-width:{width * 1.2:.0f}px" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
        f"<style>text{{font-family:sans-serif;font-size:14px;fill:{INK}}}"
        f".t{{font-weight:bold}}.s{{font-size:11px}}</style>"
        f'<rect width="{width}" height="{height + 28}" fill="#fff"/>'
        f'<text class="t" x="4" y="18">{escape(title)}</text>'
        f'<g transform="translate(0,28)">' + "".join(body) + "</g></svg>"
    )


def bar_chart(*, chart_id: str, title: str, items: list[tuple[str, int]]) -> SafeString:
    """Horizontal bars, one per item: its label above it, its value at its end (a label
    beside the bar would leave the bar no room on a phone)."""
    width, row, top = 480, 40, 4
    scale = (width - 70) / max([value for _, value in items] + [1])
    height = top * 2 + row * len(items)
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        bar = value * scale
        body.append(
            f'<text x="4" y="{y + 14}">{escape(label)}</text>'
            f'<rect x="4" y="{y + 20}" width="{bar:.1f}" height="14" fill="{BAR}"/>'
            f'<text x="{bar + 10:.1f}" y="{y + 32}">{_number(value)}</text>'
        )
    # Every label and the title go through escape() above; the rest are numbers we format.
    return mark_safe(_frame(chart_id, title, items, width, height, body))  # nosec B308 B703


def column_chart(*, chart_id: str, title: str, items: list[tuple[str, int]]) -> SafeString:
    """Vertical columns (a trend), labelled below, values above."""
    width, height, left, bottom, top = 480, 220, 4, 40, 24
    slot = (width - left * 2) / max(len(items), 1)
    scale = (height - bottom - top) / max([value for _, value in items] + [1])
    body = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" '
        f'stroke="{GRID}"/>'
    ]
    for i, (label, value) in enumerate(items):
        x = left + i * slot
        bar = value * scale
        body.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{height - bottom - bar:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{bar:.1f}" fill="{BAR}"/>'
            f'<text x="{x + slot / 2:.1f}" y="{height - bottom - bar - 4:.1f}" '
            f'text-anchor="middle">{_number(value)}</text>'
            f'<text class="s" x="{x + slot / 2:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    # Every label and the title go through escape() above; the rest are numbers we format.
    return mark_safe(_frame(chart_id, title, items, width, height, body))  # nosec B308 B703


# Five blues, light to dark, for the map's classes; a place with none stays grey.
SHADES = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
NONE = "#eef2f6"
EDGE = "#7b8794"


@functools.cache
def _outlines() -> dict:
    """Venezuela's federal entities as SVG paths (scripts/build_map.py made them)."""
    return json.loads((Path(__file__).parent / "geodata" / "venezuela.json").read_text("utf-8"))


def map_classes(most: int) -> list[tuple[int, int]]:
    """The legend's ranges, (low, high): one per count up to five, else five equal steps."""
    if most <= len(SHADES):
        return [(n, n) for n in range(1, most + 1)]
    step = math.ceil(most / len(SHADES))
    return [(low, min(low + step - 1, most)) for low in range(1, most + 1, step)]


def map_chart(
    *, chart_id: str, title: str, counts: dict[str, int], labels: dict[str, str], credit: str
) -> SafeString:
    """A map of the federal entities shaded by count, a legend of the ranges, the source of
    the boundaries. Each entity says its name and count on hover (<title>); the page puts the
    counts in a table beside it."""
    outlines = _outlines()
    width, height = outlines["width"], outlines["height"]
    classes = map_classes(max(counts.values(), default=0))
    # With fewer classes than shades, the darkest ones: one attack is not drawn as "few".
    picked = list(zip(SHADES[len(SHADES) - len(classes) :], classes, strict=True))
    shade_of = {}
    for shade, (low, high) in picked:
        for n in range(low, high + 1):
            shade_of[n] = shade
    body = []
    for code, path in outlines["entities"].items():
        n = counts.get(code, 0)
        body.append(
            f'<path d="{path}" fill="{shade_of.get(n, NONE)}" stroke="{EDGE}" '
            f'stroke-width="0.5"><title>{escape(labels.get(code, code))}: {_number(n)}</title>'
            "</path>"
        )
    legend = [(NONE, "0")] + [
        (shade, _number(low) if low == high else f"{_number(low)}–{_number(high)}")
        for shade, (low, high) in picked
    ]
    y = height + 12
    for i, (shade, label) in enumerate(legend):
        x = 4 + i * 78
        body.append(
            f'<rect x="{x}" y="{y}" width="16" height="16" fill="{shade}" stroke="{EDGE}" '
            f'stroke-width="0.5"/><text x="{x + 22}" y="{y + 13}">{label}</text>'
        )
    body.append(f'<text class="s" x="4" y="{y + 38}">{escape(credit)}</text>')
    items = sorted(
        ((labels.get(code, code), n) for code, n in counts.items() if n), key=lambda i: -i[1]
    )
    # Names and the title go through escape(); paths and numbers are ours.
    return mark_safe(_frame(chart_id, title, items, width, height + 52, body))  # nosec B308 B703
