"""Report charts (matplotlib, Agg): coverage per unit and the travel-time distribution.

Every text in a chart is drawn with one font, chosen by :func:`chart_font`: an installed CJK
font (Noto Sans CJK SC preferred), else DejaVu Sans with English labels and every data label
the font cannot draw replaced (a unit's code, or "unit N") — never missing-glyph boxes.
Nothing here touches matplotlib's global rcParams or pyplot: figures are built and drawn
inside :func:`matplotlib.rc_context` and every ``Text`` gets the font explicitly.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from ..analysis.rules import MODE_LABELS, mode_label

__all__ = [
    "CJK_FONT_NAMES",
    "MODE_LABELS",
    "ChartFont",
    "chart_font",
    "coverage_by_unit_chart",
    "find_cjk_font",
    "mode_label",
    "png_bytes",
    "travel_time_chart",
]

CJK_FONT_NAMES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "Source Han Sans CN",
    "PingFang SC",
    "Microsoft YaHei",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Noto Sans CJK JP",
)
"""CJK fonts tried in order; the first installed one covering :data:`_PROBE` is used."""
_PROBE = "医疗卫生服务圈覆盖率分钟步行健身目标全部居民区域"
FALLBACK_FONT = "DejaVu Sans"
DPI = 200
"""Resolution of the PNGs (dots per inch): sharp when printed at the figure's width."""
WIDTH_IN = 7.2
"""Figure width (inches): the text width of an A4 page with 15 mm margins."""

_BAR = "#3b6ea8"
_BAR_ALL = "#1f3d5c"
_TARGET = "#c0392b"
_GRID = "#d9d9d9"


@dataclass(frozen=True)
class ChartFont:
    """An installed font file (and face index in a collection) and whether it is CJK."""

    name: str
    path: str
    index: int
    cjk: bool

    def properties(self, size: float | None = None) -> font_manager.FontProperties:
        """FontProperties naming this font's family (resolves to :attr:`path`)."""
        return font_manager.FontProperties(family=self.name, size=size)

    def covers(self, text: str) -> bool:
        """True if the font has a glyph for every character of ``text``."""
        codepoints = _cmap(self.path, self.index)
        return all(ord(ch) in codepoints for ch in text if not ch.isspace())


@functools.lru_cache(maxsize=16)
def _cmap(path: str, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _installed(name: str) -> ChartFont | None:
    try:
        found = font_manager.findfont(
            font_manager.FontProperties(family=name), fallback_to_default=False
        )
    except ValueError:
        return None
    path = str(getattr(found, "path", found))  # a FontPath (file + face) since matplotlib 3.11
    index = int(getattr(found, "face_index", 0) or 0)
    return ChartFont(name=name, path=path, index=index, cjk=True)


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> ChartFont | None:
    """The first installed font of :data:`CJK_FONT_NAMES` that draws Chinese, or None."""
    for name in CJK_FONT_NAMES:
        font = _installed(name)
        if font is not None and font.covers(_PROBE):
            return font
    return None


def chart_font() -> ChartFont:
    """The charts' font: a CJK font if installed, else DejaVu Sans (English labels)."""
    font = find_cjk_font()
    if font is not None:
        return font
    fallback = _installed(FALLBACK_FONT)
    if fallback is None:  # matplotlib ships DejaVu Sans; this would be a broken install
        raise RuntimeError("matplotlib cannot find its bundled DejaVu Sans font")
    return ChartFont(fallback.name, fallback.path, fallback.index, cjk=False)


# --------------------------------------------------------------------------- labels


class _Labels:
    """Chooses zh or en chart text and makes data labels drawable with the font."""

    def __init__(self, font: ChartFont, lang: str) -> None:
        self.font = font
        self.zh = lang == "zh" and font.cjk

    def t(self, zh: str, en: str) -> str:
        """UI text in the chart's language (English when the font has no Chinese)."""
        return zh if self.zh else en

    def data(self, *candidates: object, default: str) -> str:
        """The first candidate the font can draw (data values: names, codes)."""
        for value in candidates:
            text = "" if value is None else str(value).strip()
            if text and text.lower() != "nan" and self.font.covers(text):
                return text
        return default

    def rule(self, rule: dict) -> str:
        """A rule's name in the chart's language."""
        first, second = (
            (rule.get("name_zh"), rule.get("name_en"))
            if self.zh
            else (rule.get("name_en"), rule.get("name_zh"))
        )
        return self.data(first, second, rule.get("id"), default="rule")

    def mode(self, rule: dict) -> str:
        return self.t(*mode_label(rule))


def _pct(share: float) -> str:
    return "–" if share is None or not np.isfinite(share) else f"{share:.1%}"


@contextmanager
def _style(font: ChartFont) -> Iterator[None]:
    """Scoped matplotlib settings for building and drawing a chart (no global change)."""
    with matplotlib.rc_context(
        {
            "font.family": [font.name],
            "font.size": 9,
            "text.parse_math": False,
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        yield


def _new_figure(height_in: float) -> Figure:
    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _finish(figure: Figure, font: ChartFont) -> Figure:
    """Draw once (creating tick labels), then give every Text the font explicitly."""
    figure.canvas.draw()
    for text in figure.findobj(Text):
        size = text.get_fontsize()
        text.set_fontproperties(font.properties(size))
        text.set_parse_math(False)
    return figure


def _share_axis(ax, *, horizontal: bool) -> None:
    ticks = np.linspace(0.0, 1.0, 6)
    labels = [f"{t:.0%}" for t in ticks]
    if horizontal:
        ax.set_xlim(0.0, 1.12)
        ax.set_xticks(ticks, labels=labels)
        ax.grid(axis="x", color=_GRID, linewidth=0.6)
    else:
        ax.set_ylim(0.0, 1.05)
        ax.set_yticks(ticks, labels=labels)
        ax.grid(axis="y", color=_GRID, linewidth=0.6)
    ax.set_axisbelow(True)


# --------------------------------------------------------------------------- charts


def coverage_by_unit_chart(
    rule: dict,
    units: Sequence[tuple[str, str, float]],
    *,
    lang: str = "zh",
    font: ChartFont | None = None,
) -> Figure:
    """Horizontal bars: share covered (0–1) of all residents (``rule``) and of each unit.

    ``rule`` is a summary.json rule (``share_covered``, ``target_share``, names); ``units``
    are ``(name, code, share)`` rows, drawn lowest share first. The target is a dashed line.
    """
    font = font or chart_font()
    labels = _Labels(font, lang)
    rows = [(labels.t("全部居民", "All residents"), float(rule["share_covered"]), True)]
    numbered = [(i + 1, *unit) for i, unit in enumerate(units)]  # "unit N": input order
    for i, name, code, share in sorted(
        numbered, key=lambda u: (np.nan_to_num(u[3], nan=-1.0), u[0])
    ):
        label = labels.data(name, code, default=labels.t(f"单元 {i}", f"unit {i}"))
        rows.append((label, float(share), False))
    with _style(font):
        figure = _new_figure(1.3 + 0.32 * len(rows))
        ax = figure.add_subplot()
        y = np.arange(len(rows))[::-1]
        shares = np.array([np.nan_to_num(r[1], nan=0.0) for r in rows])
        colours = [_BAR_ALL if r[2] else _BAR for r in rows]
        ax.barh(y, shares, height=0.62, color=colours)
        for yi, (_, share, _) in zip(y, rows, strict=True):
            ax.text(
                min(share if np.isfinite(share) else 0.0, 1.0) + 0.01,
                yi,
                _pct(share),
                va="center",
                ha="left",
                fontsize=8.5,
            )
        ax.set_yticks(y, labels=[r[0] for r in rows])
        ax.tick_params(axis="y", length=0)
        _share_axis(ax, horizontal=True)
        target = rule.get("target_share")
        if target is not None:
            ax.axvline(float(target), color=_TARGET, linestyle="--", linewidth=1.2)
            ax.text(
                float(target),
                1.0,
                labels.t(f"目标 {target:.0%}", f"target {target:.0%}"),
                transform=ax.get_xaxis_transform(),
                color=_TARGET,
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_xlabel(labels.t("覆盖人口比例", "Share of residents covered"))
        ax.set_title(
            labels.t(f"{labels.rule(rule)}：各单元覆盖率", f"{labels.rule(rule)}: share by unit"),
            loc="left",
            fontsize=10,
            pad=14,
        )
        return _finish(figure, font)


def travel_time_chart(
    rule: dict,
    time_s: np.ndarray,
    population: np.ndarray,
    covered: np.ndarray,
    *,
    lang: str = "zh",
    font: ChartFont | None = None,
) -> Figure:
    """Population-weighted cumulative share of residents by minutes to the nearest facility.

    ``time_s`` (seconds, NaN = unreachable), ``population`` and ``covered`` (bool) are per
    demand point; the share at the rule's threshold is ``covered``'s, marked with the
    threshold and the target.
    """
    font = font or chart_font()
    labels = _Labels(font, lang)
    time_s = np.asarray(time_s, dtype=float)
    population = np.asarray(population, dtype=float)
    total = float(population.sum())
    threshold = float(rule["threshold_min"])
    share_at = float(population[np.asarray(covered, dtype=bool)].sum()) / total if total else 0.0
    finite = np.isfinite(time_s)
    minutes = time_s[finite] / 60.0
    order = np.argsort(minutes, kind="stable")
    minutes = minutes[order]
    cumulative = np.cumsum(population[finite][order]) / total if total else minutes * 0
    top = float(minutes[-1]) if len(minutes) else threshold
    x_max = max(1.5 * threshold, min(top, 4.0 * threshold))
    grid = np.linspace(0.0, x_max, 801)
    found = np.searchsorted(minutes, grid, side="right")
    curve = (
        np.where(found > 0, cumulative[np.maximum(found - 1, 0)], 0.0) if len(minutes) else 0 * grid
    )
    unreachable = float(population[~finite].sum())
    with _style(font):
        figure = _new_figure(3.2)
        ax = figure.add_subplot()
        ax.plot(grid, curve, color=_BAR, linewidth=1.8, drawstyle="steps-post")
        ax.fill_between(grid, curve, step="post", color=_BAR, alpha=0.12, linewidth=0)
        ax.axvline(threshold, color="#444444", linestyle="--", linewidth=1.0)
        ax.plot([threshold], [share_at], marker="o", color=_BAR_ALL, markersize=5)
        ax.annotate(
            labels.t(
                f"{threshold:g} 分钟内：{_pct(share_at)}",
                f"within {threshold:g} min: {_pct(share_at)}",
            ),
            (threshold, share_at),
            xytext=(8, -14),
            textcoords="offset points",
            fontsize=9,
            fontweight="bold",
            color=_BAR_ALL,
        )
        target = rule.get("target_share")
        if target is not None:
            ax.axhline(float(target), color=_TARGET, linestyle=":", linewidth=1.2)
            ax.text(
                0.0,
                float(target),
                labels.t(f" 目标 {target:.0%}", f" target {target:.0%}"),
                color=_TARGET,
                va="bottom",
                ha="left",
                fontsize=8,
            )
        _share_axis(ax, horizontal=False)
        ax.set_xlim(0.0, x_max)
        ax.set_xlabel(
            labels.t(
                f"到最近设施的{labels.mode(rule)}时间（分钟）",
                f"Minutes to the nearest facility ({labels.mode(rule)})",
            )
        )
        ax.set_ylabel(labels.t("累计居民比例", "Cumulative share of residents"))
        title = labels.t(
            f"{labels.rule(rule)}：出行时间分布", f"{labels.rule(rule)}: travel-time distribution"
        )
        ax.set_title(title, loc="left", fontsize=10)
        if unreachable > 0:
            ax.text(
                1.0,
                0.02,
                labels.t(
                    f"不可达 {unreachable:,.0f} 人", f"unreachable: {unreachable:,.0f} residents"
                ),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8,
                color="#555555",
            )
        return _finish(figure, font)


def png_bytes(figure: Figure, *, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (Agg)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()
