import json
import re
from pathlib import Path

import reports
from organizations.vocabularies import State
from reports import charts

OUTLINES = Path(reports.__file__).parent / "geodata" / "venezuela.json"


def test_the_outlines_cover_every_federal_entity_and_nothing_else():
    outlines = json.loads(OUTLINES.read_text("utf-8"))
    assert set(outlines["entities"]) == set(State.values)
    assert "Natural Earth" in outlines["source"] and "MIT" in outlines["source"]
    for code, path in outlines["entities"].items():
        assert re.fullmatch(r"(M[\d. L]+Z)+", path), code
        numbers = [float(n) for n in re.findall(r"[\d.]+", path)]
        assert 0 <= min(numbers) and max(numbers) <= outlines["width"] + 1, code


def test_the_legend_gives_each_small_count_a_shade_and_larger_ones_five_ranges():
    assert charts.map_classes(0) == []
    assert charts.map_classes(1) == [(1, 1)]
    assert charts.map_classes(5) == [(n, n) for n in range(1, 6)]
    assert charts.map_classes(12) == [(1, 3), (4, 6), (7, 9), (10, 12)]
    assert charts.map_classes(100) == [(1, 20), (21, 40), (41, 60), (61, 80), (81, 100)]
    for most in range(1, 300):
        ranges = charts.map_classes(most)
        assert ranges[0][0] == 1 and ranges[-1][1] == most and len(ranges) <= 5
        assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_one_attack_is_not_drawn_as_few_and_names_are_escaped():
    svg = charts.map_chart(
        chart_id="map",
        title="<Mapa>",
        counts={"VE-V": 1},
        labels={"VE-V": "Zulia & <b>"},
        credit="Natural Earth",
    )
    assert "&lt;Mapa&gt;" in svg and "Zulia &amp; &lt;b&gt;: 1" in svg and "<b>" not in svg
    assert f'fill="{charts.SHADES[-1]}"' in svg  # the darkest: a single class
    assert svg.count(f'fill="{charts.NONE}"') == 25  # 24 entities with none, the legend's 0
