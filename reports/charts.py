"""Server-rendered SVG charts: no JavaScript, no CDN, readable when printed, and described
for screen readers (<title> and <desc>, role="img")."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK = "#1f2933"
BAR = "#2b5f8a"
GRID = "#d9e2ec"


def _frame(chart_id: str, title: str, items, width: int, height: int, body: list[str]) -> str:
    description = "; ".join(f"{label}: {value}" for label, value in items)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
        f"<style>text{{font-family:sans-serif;font-size:12px;fill:{INK}}}</style>"
        + "".join(body)
        + "</svg>"
    )


def bar_chart(*, chart_id: str, title: str, items: list[tuple[str, int]]) -> SafeString:
    """Horizontal bars, one per item, with the value at the end of each bar."""
    width, label_width, row, top = 720, 260, 24, 8
    scale = (width - label_width - 60) / max([value for _, value in items] + [1])
    height = top * 2 + row * len(items)
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        bar = value * scale
        body.append(
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{bar:.1f}" height="{row - 8}" '
            f'fill="{BAR}"/>'
            f'<text x="{label_width + bar + 6:.1f}" y="{y + 16}">{value}</text>'
        )
    # Every label and the title go through escape() above; the rest are numbers we format.
    return mark_safe(_frame(chart_id, title, items, width, height, body))  # nosec B308 B703


def column_chart(*, chart_id: str, title: str, items: list[tuple[str, int]]) -> SafeString:
    """Vertical columns (a trend), labelled below, values above."""
    width, height, left, bottom, top = 720, 240, 10, 40, 24
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
            f'text-anchor="middle">{value}</text>'
            f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    # Every label and the title go through escape() above; the rest are numbers we format.
    return mark_safe(_frame(chart_id, title, items, width, height, body))  # nosec B308 B703
