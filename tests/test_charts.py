"""Report charts: Chinese text drawn with a real CJK font (no missing-glyph boxes), numbers equal
the demo's summary, and matplotlib's global settings left alone.

The charts are built from a real run of the demo project (团城山街道).
"""

from __future__ import annotations

import functools
import json
import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from geoplan.analysis.coverage import OUTSIDE_UNITS
from geoplan.rendering import charts

CJK = re.compile(r"[\u3400-\u9fff]")
PERCENT = re.compile(r"\d+\.\d%")
WATCHED_RC = (
    "font.family",
    "font.sans-serif",
    "font.size",
    "text.parse_math",
    "axes.unicode_minus",
)


@pytest.fixture(scope="module")
def demo(demo_dir):
    """The demo's summary, demand points and coverage by unit."""
    out = demo_dir
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    points = pd.read_csv(out / "coverage_points.csv", encoding="utf-8-sig")
    by_unit = pd.read_csv(out / "coverage_by_unit.csv", encoding="utf-8-sig", dtype=str)
    return summary, points, by_unit


def _units(by_unit: pd.DataFrame, rule_id: str) -> list[tuple[str, str, float]]:
    rows = by_unit[by_unit["unit_name"] != OUTSIDE_UNITS]
    return [
        (name, "", float(share))
        for name, share in zip(rows["unit_name"], rows[f"{rule_id}_share_covered"], strict=True)
    ]


def _figures(demo, **kwargs) -> list[tuple[dict, str, Figure]]:
    summary, points, by_unit = demo
    figures = []
    for rule in summary["rules"]:
        rid = rule["id"]
        figures.append(
            (rule, "units", charts.coverage_by_unit_chart(rule, _units(by_unit, rid), **kwargs))
        )
        figures.append(
            (
                rule,
                "times",
                charts.travel_time_chart(
                    rule,
                    points[f"{rid}_time_s"].to_numpy(),
                    points["population"].to_numpy(),
                    points[f"{rid}_covered"].to_numpy(),
                    **kwargs,
                ),
            )
        )
    return figures


def _texts(figure: Figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _resolved(text: Text) -> tuple[str, frozenset[int]]:
    """Family name and code points of the font file matplotlib resolves for ``text``."""
    found = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
    return _font_file(str(getattr(found, "path", found)), int(getattr(found, "face_index", 0)))


@functools.lru_cache
def _font_file(path: str, index: int) -> tuple[str, frozenset[int]]:
    with TTFont(path, fontNumber=index, lazy=True) as font:
        return str(font["name"].getDebugName(1)), frozenset(font.getBestCmap())


def test_chart_texts_resolve_to_a_cjk_font_with_every_character(demo, cjk_font):
    assert cjk_font is not None
    for rule, kind, figure in _figures(demo, lang="zh"):
        texts = _texts(figure)
        assert any(CJK.search(t.get_text()) for t in texts), (rule["id"], kind)
        assert any(rule["name_zh"] in t.get_text() for t in texts)
        for text in texts:
            family, codepoints = _resolved(text)
            assert "CJK" in family or family in charts.CJK_FONT_NAMES, (text.get_text(), family)
            missing = [c for c in text.get_text() if not c.isspace() and ord(c) not in codepoints]
            assert missing == [], (text.get_text(), family)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert charts.png_bytes(figure).startswith(b"\x89PNG")
        assert [str(w.message) for w in caught] == []


def _render(label: str, family: str) -> np.ndarray:
    figure = Figure(figsize=(5, 0.8), dpi=100)
    FigureCanvasAgg(figure)
    figure.text(
        0.02, 0.25, label, fontproperties=font_manager.FontProperties(family=family, size=22)
    )
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)


def test_cjk_font_draws_glyphs_where_dejavu_draws_boxes(demo, cjk_font):
    summary = demo[0]
    label = summary["rules"][0]["name_zh"]
    font = cjk_font
    assert font is not None
    with pytest.warns(UserWarning, match="missing from font"):
        boxes = _render(label, "DejaVu Sans")
    with pytest.warns(UserWarning, match="missing from font"):
        box_a, box_b = _render("医", "DejaVu Sans"), _render("疗", "DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        glyphs = _render(label, font.name)
        glyph_a, glyph_b = _render("医", font.name), _render("疗", font.name)
    assert [str(w.message) for w in caught] == []
    changed = np.abs(glyphs - boxes).sum(axis=2) > 90
    assert changed.mean() > 0.03  # the two images differ substantially
    assert (glyphs < 128).any(axis=2).mean() > 0.03  # and the CJK one is not blank
    # DejaVu draws the same missing-glyph box for any character; the CJK font draws each
    assert np.array_equal(box_a, box_b)
    assert not np.array_equal(glyph_a, glyph_b)


def test_chart_numbers_equal_the_summary(demo, cjk_font):
    summary, _, by_unit = demo
    figures = _figures(demo, lang="zh")
    for rule in summary["rules"]:
        share = f"{rule['share_covered']:.1%}"
        units = {f"{s:.1%}" for _, _, s in _units(by_unit, rule["id"])}
        bars = next(f for r, k, f in figures if r is rule and k == "units")
        labels = [t.get_text() for t in _texts(bars) if PERCENT.fullmatch(t.get_text())]
        assert labels[0] == share  # "all residents" comes first
        assert set(labels) == {share} | units
        times = next(f for r, k, f in figures if r is rule and k == "times")
        marks = [PERCENT.search(t.get_text()) for t in _texts(times) if "分钟内" in t.get_text()]
        assert [m.group() for m in marks if m] == [share]


def test_charts_leave_matplotlib_settings_alone(demo):
    before = {key: matplotlib.rcParams[key] for key in WATCHED_RC}
    _figures(demo, lang="zh")
    assert {key: matplotlib.rcParams[key] for key in WATCHED_RC} == before


def test_without_cjk_font_charts_use_english_and_drawable_labels(demo, monkeypatch):
    monkeypatch.setattr(charts, "find_cjk_font", lambda: None)
    font = charts.chart_font()
    assert not font.cjk and font.name == "DejaVu Sans"
    rule = dict(demo[0]["rules"][0])
    units = [("团城山街道", "420202", 0.4), ("城东社区", "", 0.6), ("$\\nosuchmacro$ <b>", "", 0.5)]
    figure = charts.coverage_by_unit_chart(rule, units, lang="zh")
    texts = [t.get_text() for t in _texts(figure)]
    assert not any(CJK.search(t) for t in texts), texts
    assert {"420202", "unit 2", "$\\nosuchmacro$ <b>"} <= set(texts)  # code, number, literal
    assert "All residents" in texts
    assert any(rule["name_en"] in t for t in texts)
    for text in _texts(figure):
        _, codepoints = _resolved(text)
        assert all(ord(c) in codepoints for c in text.get_text() if not c.isspace())
    # any missing glyph would warn, and warnings are errors here
    assert charts.png_bytes(figure).startswith(b"\x89PNG")
