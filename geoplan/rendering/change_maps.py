"""Maps of changes, drawn next to the map code: a scenario's before and after (gained and lost
residents and streets, moves, closures, additions), new sites (candidates by the residents
each adds, the chosen sites, the coverage they bring) and 片区 (sub-centres and the areas they
serve). The workflows compute; these functions only draw (folium through
:mod:`geoplan.rendering.maps`, imported when a map is drawn).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from shapely.geometry import LineString

from ..analysis.coverage import column, rule_facilities
from ..analysis.rules import Rule
from ..messages import percent_text
from ..taxonomy import CATEGORIES

__all__ = [
    "AREA_BUFFER_M",
    "CLOSED_COLOUR",
    "COVERED_COLOUR",
    "GAINED_COLOUR",
    "LOST_COLOUR",
    "MOVE_COLOUR",
    "UNCOVERED_COLOUR",
    "catchments_map",
    "change_areas",
    "change_layers",
    "change_legend_rows",
    "difference_layers",
    "facility_layers",
    "facility_legend_rows",
    "move_lines",
    "scenario_map",
    "sites_map",
    "street_change_codes",
    "symbol_legend_rows",
]

GAINED_COLOUR = "#1a9850"
LOST_COLOUR = "#d73027"
COVERED_COLOUR = "#8fb8d8"
UNCOVERED_COLOUR = "#c4c4c4"
MOVE_COLOUR = "#252525"
CLOSED_COLOUR = "#252525"
_NEW_POP_COLOURS = ("#d9d9d9", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#7b6bb8")
_SELECTED_COLOUR = "#08306b"
_HUB_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)


# --------------------------------------------------------------------------- scenario


def street_change_codes(
    network, threshold_s: float, node_s_before: np.ndarray, node_s_after: np.ndarray
) -> np.ndarray:
    """Per street: 0 not covered before or after, 1 covered both, 2 gained, 3 lost.

    Display only, as on the coverage map: a street's time is its better end node's time.
    """
    u = network.edges["u"].to_numpy()
    v = network.edges["v"].to_numpy()
    within_b = np.minimum(node_s_before[u], node_s_before[v]) <= threshold_s
    within_a = np.minimum(node_s_after[u], node_s_after[v]) <= threshold_s
    codes = np.zeros(len(u), dtype=np.int8)
    codes[within_b & within_a] = 1
    codes[~within_b & within_a] = 2
    codes[within_b & ~within_a] = 3
    return codes


def _minutes(seconds: float) -> str:
    return "不可达 unreachable" if not math.isfinite(seconds) else f"{seconds / 60:.1f}"


AREA_BUFFER_M = 80.0
"""Radius (m) around each changed resident location drawn as the gained/lost area."""


def change_areas(
    points: pd.DataFrame, rule_id: str, crs, *, buffer_m: float = AREA_BUFFER_M
) -> gpd.GeoDataFrame:
    """Gained and lost areas of one rule: the union of discs around the changed points.

    One row per kind with ``kind`` (gained, lost), ``population``, ``points`` and the polygon
    (network CRS); display only.
    """
    rows = []
    for kind in ("gained", "lost"):
        mask = points[f"{rule_id}_{kind}"].to_numpy(dtype=bool)
        if not mask.any():
            continue
        discs = gpd.GeoSeries(
            gpd.points_from_xy(points["x"][mask], points["y"][mask]), crs=crs
        ).buffer(buffer_m, quad_segs=6)
        rows.append(
            {
                "kind": kind,
                "population": float(points["population"].to_numpy()[mask].sum()),
                "points": int(mask.sum()),
                "geometry": discs.union_all().simplify(5.0),
            }
        )
    if not rows:
        return gpd.GeoDataFrame({"kind": [], "population": [], "points": []}, geometry=[], crs=crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def difference_layers(
    network,
    rule: Rule,
    *,
    node_s_before: np.ndarray,
    node_s_after: np.ndarray,
    points: pd.DataFrame,
    show: bool,
) -> list:
    """Map layers of one rule's change: areas, streets and residents that gain or lose.

    Gained is green, lost red. ``points`` needs ``x``, ``y`` (network CRS), ``population``
    and the rule's ``<id>_time_before_s``, ``<id>_time_after_s``, ``<id>_gained`` and
    ``<id>_lost``.
    """
    from . import maps

    r = rule.id
    name = f"{rule.name_zh} / {rule.name_en}"
    codes = street_change_codes(network, rule.threshold_s, node_s_before, node_s_after)
    colours = np.array([UNCOVERED_COLOUR, COVERED_COLOUR, GAINED_COLOUR, LOST_COLOUR])
    streets = gpd.GeoDataFrame(
        {"code": codes, "colour": colours[codes]},
        geometry=network.edges.geometry.values,
        crs=network.crs,
    )
    quiet = streets[codes < 2].sort_values("code", kind="stable")
    loud = streets[codes >= 2]
    areas = change_areas(points, r, network.crs)
    areas["colour"] = np.where(areas["kind"] == "gained", GAINED_COLOUR, LOST_COLOUR)
    areas["tip"] = [
        f"{'获得覆盖 gain access' if k == 'gained' else '失去覆盖 lose access'}: "
        f"{p:,.0f} 人 people（{n} 个需求点 demand points）\n{name}"
        for k, p, n in zip(areas["kind"], areas["population"], areas["points"], strict=True)
    ]
    gained = points[f"{r}_gained"].to_numpy()
    lost = points[f"{r}_lost"].to_numpy()
    chosen = points[gained | lost]
    population = chosen["population"].to_numpy(dtype=float)
    biggest = float(points["population"].max()) if len(points) else 1.0
    radius = 1.5 + 4.5 * np.sqrt(np.clip(population, 0, None) / max(biggest, 1e-9))
    is_gain = chosen[f"{r}_gained"].to_numpy()
    tips = [
        f"{'获得覆盖 gains access' if g else '失去覆盖 loses access'}: {p:,.0f} 人 people\n"
        f"{_minutes(tb)} → {_minutes(ta)} 分钟 min（{rule.threshold_min:g} 分钟阈值 threshold）"
        for g, p, tb, ta in zip(
            is_gain,
            population,
            chosen[f"{r}_time_before_s"].to_numpy(dtype=float),
            chosen[f"{r}_time_after_s"].to_numpy(dtype=float),
            strict=True,
        )
    ]
    residents = gpd.GeoDataFrame(
        {
            "colour": np.where(is_gain, GAINED_COLOUR, LOST_COLOUR),
            "radius": radius,
            "tip": tips,
        },
        geometry=gpd.points_from_xy(chosen["x"], chosen["y"]),
        crs=network.crs,
    ).sort_values("radius", ascending=False, kind="stable")
    return [
        maps.FeatureLayer(
            f"{name}：获得/失去覆盖的区域 / areas that gain or lose access",
            areas,
            kind="areas",
            style={"weight": 1.2, "opacity": 0.8, "fillOpacity": 0.22},
            colour_column="colour",
            tooltip_column="tip",
            show=show,
            swatch=GAINED_COLOUR,
        ),
        maps.FeatureLayer(
            f"{name}：覆盖不变的街道 / streets unchanged",
            quiet,
            kind="lines",
            style={"color": COVERED_COLOUR, "weight": 1.6, "opacity": 0.9},
            colour_column="colour",
            show=show,
        ),
        maps.FeatureLayer(
            f"{name}：获得/失去覆盖的居民 / residents who gain or lose access",
            residents,
            kind="points",
            style={"color": "#ffffff", "weight": 0.5, "fillOpacity": 0.75},
            colour_column="colour",
            radius_column="radius",
            tooltip_column="tip",
            show=show,
            swatch=GAINED_COLOUR,
        ),
        maps.FeatureLayer(
            f"{name}：获得/失去覆盖的街道 / streets that gain or lose access",
            loud,
            kind="lines",
            style={"color": GAINED_COLOUR, "weight": 3.4, "opacity": 0.95},
            colour_column="colour",
            show=show,
        ),
    ]


def facility_layers(facilities: gpd.GeoDataFrame, *, name_zh: str, name_en: str) -> list:
    """Facilities as dots coloured by group, with name and category in the tooltip."""
    from . import maps

    frame = facilities.to_crs(4326).copy()
    groups = frame["category"].map(lambda c: CATEGORIES[c].group if c in CATEGORIES else "")
    frame["colour"] = groups.map(lambda g: maps.GROUP_COLOURS.get(g, "#555555"))
    frame["tip"] = [
        f"{name}\n{CATEGORIES[c].name_zh} / {CATEGORIES[c].name_en}\n{fid}"
        if c in CATEGORIES
        else f"{name}\n{c}\n{fid}"
        for name, c, fid in zip(
            frame.get("name", frame["facility_id"]).astype(str),
            frame["category"].astype(str),
            frame["facility_id"].astype(str),
            strict=True,
        )
    ]
    return [
        maps.FeatureLayer(
            f"{name_zh} / {name_en} ({len(frame)})",
            frame,
            kind="points",
            style={
                "radius": 6.5,
                "color": "#ffffff",
                "weight": 1.5,
                "fillOpacity": 0.95,
                "opacity": 1,
            },
            colour_column="colour",
            tooltip_column="tip",
            swatch=maps.GROUP_COLOURS["medical"],
        )
    ]


def move_lines(moves: pd.DataFrame) -> list[LineString]:
    """Each move as a WGS84 line from its position before to its position after."""
    return [
        LineString([(r.lon_before, r.lat_before), (r.lon_after, r.lat_after)])
        for r in moves.itertuples(index=False)
    ]


def _bearing_deg(changes: pd.DataFrame) -> np.ndarray:
    """Screen bearing (degrees clockwise from north, Web Mercator) of each move."""
    to = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to.transform(changes["lon_before"].to_numpy(), changes["lat_before"].to_numpy())
    x1, y1 = to.transform(changes["lon_after"].to_numpy(), changes["lat_after"].to_numpy())
    return np.degrees(np.arctan2(np.asarray(x1) - x0, np.asarray(y1) - y0))


def change_layers(changes: pd.DataFrame) -> list:
    """Moves (old position ring, dashed line, arrow), closures (cross) and additions (plus)."""
    from . import maps

    layers = []
    moves = changes[changes["action"] == "move"]
    if len(moves):
        lines = gpd.GeoDataFrame(
            {
                "tip": [
                    f"{r.name}（{r.facility_id}）迁移 moved {r.moved_m:,.0f} m"
                    for r in moves.itertuples(index=False)
                ]
            },
            geometry=move_lines(moves),
            crs=4326,
        )
        t = 0.72
        arrows = gpd.GeoDataFrame(
            {"rotation": _bearing_deg(moves), "tip": lines["tip"].to_numpy()},
            geometry=gpd.points_from_xy(
                moves["lon_before"] + t * (moves["lon_after"] - moves["lon_before"]),
                moves["lat_before"] + t * (moves["lat_after"] - moves["lat_before"]),
            ),
            crs=4326,
        )
        old = gpd.GeoDataFrame(
            {"tip": [f"原位置 original position: {r.name}" for r in moves.itertuples()]},
            geometry=gpd.points_from_xy(moves["lon_before"], moves["lat_before"]),
            crs=4326,
        )
        layers.append(
            maps.FeatureLayer(
                f"迁移 / moved facilities ({len(moves)})",
                lines,
                kind="lines",
                style={"color": MOVE_COLOUR, "weight": 3.2, "dashArray": "9 6", "opacity": 0.95},
                tooltip_column="tip",
            )
        )
        layers.append(
            maps.FeatureLayer(
                "原位置 / original positions",
                old,
                kind="markers",
                shape="ring",
                style={"color": MOVE_COLOUR, "size": 18},
                tooltip_column="tip",
            )
        )
        layers.append(
            maps.FeatureLayer(
                "迁移方向 / direction of the move",
                arrows,
                kind="markers",
                shape="arrow",
                style={"color": MOVE_COLOUR, "size": 28},
                rotation_column="rotation",
                tooltip_column="tip",
            )
        )
    for action, zh, en, side, shape, colour in (
        ("close", "关闭", "closed", "before", "cross", CLOSED_COLOUR),
        ("add", "新增", "added", "after", "plus", GAINED_COLOUR),
    ):
        chosen = changes[changes["action"] == action]
        if len(chosen):
            tips = [f"{zh} {en}: {r.name}（{r.facility_id}）" for r in chosen.itertuples()]
            layers.append(
                maps.FeatureLayer(
                    f"{zh} / {en} facilities ({len(chosen)})",
                    gpd.GeoDataFrame(
                        {"tip": tips},
                        geometry=gpd.points_from_xy(chosen[f"lon_{side}"], chosen[f"lat_{side}"]),
                        crs=4326,
                    ),
                    kind="markers",
                    shape=shape,
                    style={"color": colour, "size": 20},
                    tooltip_column="tip",
                )
            )
    return layers


def change_legend_rows(rule_rows: Sequence[Mapping]) -> list:
    """Legend text rows: per rule the share before → after, change, gained and lost."""
    rows = []
    for item in rule_rows:
        b, a = item["before"], item["after"]
        change = item["change"]["population_covered"]
        gained, lost = item["gained"]["population"], item["lost"]["population"]
        rows.append(
            (
                "text",
                "",
                f"{item['name_zh']} / {item['name_en']}: {percent_text(b['share'])} → "
                f"{percent_text(a['share'])}（{change:+,.0f} 人 people；获得 gained {gained:,.0f}，"
                f"失去 lost {lost:,.0f}）",
            )
        )
    return rows


def symbol_legend_rows(threshold_text: str, *, losses: bool = True) -> list:
    """Legend rows of the difference symbols (``losses=False``: only gains can happen)."""
    rows = [
        ("area", GAINED_COLOUR, "获得覆盖的区域 / area that gains access"),
        ("area", LOST_COLOUR, "失去覆盖的区域 / area that loses access"),
        ("line", GAINED_COLOUR, f"新进入{threshold_text}的街道 / streets newly within reach"),
        ("line", LOST_COLOUR, f"退出{threshold_text}的街道 / streets no longer within reach"),
        ("line", COVERED_COLOUR, "前后均覆盖 / within reach before and after"),
        ("line", UNCOVERED_COLOUR, "前后均未覆盖 / beyond reach before and after"),
        ("dot", GAINED_COLOUR, "获得覆盖的居民（圆面积∝人口）/ residents who gain access"),
        ("dot", LOST_COLOUR, "失去覆盖的居民（圆面积∝人口）/ residents who lose access"),
    ]
    return rows if losses else [r for r in rows if r[1] != LOST_COLOUR]


def facility_legend_rows(facilities: gpd.GeoDataFrame, changes: pd.DataFrame) -> list:
    """Legend rows of the facility groups present and of the kinds of change made."""
    from ..taxonomy import GROUP_LABELS
    from . import maps

    rows = []
    groups = dict.fromkeys(
        CATEGORIES[c].group for c in facilities["category"].astype(str) if c in CATEGORIES
    )
    for group in groups:
        zh, en = GROUP_LABELS.get(group, (group, group))
        rows.append(("dot", maps.GROUP_COLOURS.get(group, "#555555"), f"{zh} / {en}"))
    actions = set(changes["action"])
    if "move" in actions:
        rows.append(("ring", MOVE_COLOUR, "迁移前的位置 / position before the move"))
        rows.append(("arrow", MOVE_COLOUR, "迁移方向（虚线）/ direction of the move (dashed)"))
    if "close" in actions:
        rows.append(("cross", CLOSED_COLOUR, "关闭 / closed"))
    if "add" in actions:
        rows.append(("plus", GAINED_COLOUR, "新增 / added"))
    return rows


def scenario_map(result: Any):
    """The difference map: gained green, lost red, moves as arrows, closures crossed."""
    from . import maps

    before, project = result.before, result.before.project
    rule_rows = result.summary["rules"]
    name_zh = result.summary.get("scenario_name_zh", "")
    name_en = result.summary.get("scenario_name_en", "")
    changed_rules = [
        i for i, item in enumerate(rule_rows) if item["gained"]["points"] or item["lost"]["points"]
    ]
    shown = changed_rules or [0]
    layers = []
    for i, rule in enumerate(project.rules):
        if i not in shown:
            continue  # no resident gains or loses: the legend's figures say so
        layers += difference_layers(
            before.network,
            rule,
            node_s_before=before.coverage.node_time_s[rule.id],
            node_s_after=result.after.node_time_s[rule.id],
            points=result.points,
            show=i == shown[0],
        )
    layers += facility_layers(
        result.facilities_after, name_zh="情景后的设施", name_en="facilities in the scenario"
    )
    layers += change_layers(result.changes)
    thresholds = sorted({f"{r.threshold_min:g}" for r in project.rules})
    legend = [
        (
            "人口覆盖率 前 → 后 / Share covered before → after",
            change_legend_rows(rule_rows),
        ),
        ("覆盖变化 / Change in reach", symbol_legend_rows(f" {'/'.join(thresholds)} 分钟")),
        ("设施 / Facilities", facility_legend_rows(result.facilities_after, result.changes)),
    ]
    return maps.feature_map(
        title_zh=f"{project.area} 情景对比" + (f"：{name_zh}" if name_zh else ""),
        title_en=f"{project.area_en}: what-if scenario" + (f" — {name_en}" if name_en else ""),
        boundary=before.boundary,
        layers=layers,
        legend=legend,
        notes_zh=result.summary["notes_zh"],
        notes_en=result.summary["notes_en"],
        attribution=before.attribution,
        max_points=project.limits.map_points,
    )


# --------------------------------------------------------------------------- new sites


def _class_breaks(values: np.ndarray) -> np.ndarray:
    """Upper bounds of 5 classes of positive values (quantiles), for the candidate colours."""
    positive = values[values > 0]
    if len(positive) == 0:
        return np.array([])
    return np.unique(np.quantile(positive, [0.2, 0.4, 0.6, 0.8, 1.0]).round(0))


def sites_map(result: Any):
    """Selected sites, candidates by new population, and the coverage change they bring."""
    from . import maps

    run, rule = result.run, result.rule
    points = run.coverage.table
    after = result.after.table
    compare = points[["demand_id", "population", "x", "y"]].copy()
    r = rule.id
    cov_b = points[column(r, "covered")].to_numpy(dtype=bool)
    cov_a = after[column(r, "covered")].to_numpy(dtype=bool)
    compare[f"{r}_time_before_s"] = points[column(r, "time_s")].to_numpy()
    compare[f"{r}_time_after_s"] = after[column(r, "time_s")].to_numpy()
    compare[f"{r}_gained"] = cov_a & ~cov_b
    compare[f"{r}_lost"] = cov_b & ~cov_a
    layers = difference_layers(
        run.network,
        rule,
        node_s_before=run.coverage.node_time_s[r],
        node_s_after=result.after.node_time_s[r],
        points=compare,
        show=True,
    )
    cands = result.candidates.sort_values("new_population", kind="stable")
    values = cands["new_population"].to_numpy(dtype=float)
    breaks = _class_breaks(values)
    classes = np.where(values > 0, 1 + np.searchsorted(breaks, values, side="left"), 0)
    classes = np.minimum(classes, len(_NEW_POP_COLOURS) - 1)
    cand_frame = gpd.GeoDataFrame(
        {
            "colour": np.array(_NEW_POP_COLOURS)[classes],
            "radius": np.where(values > 0, 2.4 + 0.6 * classes, 1.8),
            "tip": [
                f"候选 candidate {c}（第 {k} 名 rank {k}）\n单独新增覆盖 adds alone: "
                f"{v:,.0f} 人 people"
                for c, k, v in zip(cands["candidate_id"], cands["rank"], values, strict=True)
            ],
        },
        geometry=cands.geometry.values,
        crs=cands.crs,
    )
    layers.append(
        maps.FeatureLayer(
            f"候选点（按单独新增覆盖人口着色）/ candidates by population they add ({len(cands)})",
            cand_frame,
            kind="points",
            style={"color": "#444444", "weight": 0.6, "fillOpacity": 0.95},
            colour_column="colour",
            radius_column="radius",
            tooltip_column="tip",
            swatch=_NEW_POP_COLOURS[-1],
        )
    )
    layers += facility_layers(
        rule_facilities(run.facilities, rule), name_zh="现有设施", name_en="existing facilities"
    )
    chosen = result.selected()
    chosen["label"] = chosen["order"].astype(str)
    chosen["tip"] = [
        f"新选址 new site {o}: {c}\n新增覆盖 newly covered: {g:,.0f} 人 people\n"
        f"{lon:.6f}, {lat:.6f}"
        for o, c, g, lon, lat in zip(
            chosen["order"],
            chosen["candidate_id"],
            chosen["gained_population"],
            chosen["lon"],
            chosen["lat"],
            strict=True,
        )
    ]
    layers.append(
        maps.FeatureLayer(
            f"选定的新址 / selected sites ({len(chosen)})",
            chosen,
            kind="markers",
            shape="label",
            style={"color": _SELECTED_COLOUR, "size": 26},
            label_column="label",
            tooltip_column="tip",
        )
    )
    s = result.summary["sites"]
    lo = np.concatenate([[1], breaks[:-1] + 1]) if len(breaks) else []
    class_rows = [("dot", _NEW_POP_COLOURS[0], "0 人 / adds nobody")]
    class_rows += [
        ("dot", _NEW_POP_COLOURS[i + 1], f"{a:,.0f}–{b:,.0f} 人 people")
        for i, (a, b) in enumerate(zip(lo, breaks, strict=True))
    ]
    share_b, share_a = s["share_before"] or 0.0, s["share_after"] or 0.0
    change = s["covered_population_after"] - s["covered_population_before"]
    legend = [
        (
            "选址结果 / Result",
            [
                (
                    "text",
                    "",
                    f"{rule.name_zh} / {rule.name_en}: {share_b * 100:.1f}% → "
                    f"{share_a * 100:.1f}%（{change:+,.0f} 人 people）",
                ),
                (
                    "text",
                    "",
                    f"模型 model {s['model'].upper()}，新址 new sites {len(s['selected'])}，"
                    f"求解 solver {s['solver']['status']}，gap {s['solver']['gap']:.2%}",
                ),
                (
                    "text",
                    "",
                    f"候选来源 candidates: {s['candidates_source']}（{s['candidates_used']}）",
                ),
                (
                    "label",
                    _SELECTED_COLOUR,
                    "选定的新址（编号见 selected.csv）/ selected site (number as in selected.csv)",
                ),
            ],
        ),
        ("候选点单独新增覆盖 / Population a candidate adds alone", class_rows),
        (
            "覆盖变化 / Change in reach",
            symbol_legend_rows(f" {rule.threshold_min:g} 分钟", losses=False),
        ),
    ]
    return maps.feature_map(
        title_zh=f"{run.project.area} 新增设施选址",
        title_en=f"{run.project.area_en}: new facility sites",
        boundary=run.boundary,
        layers=layers,
        legend=legend,
        notes_zh=[*run.project.notes_zh, "选址为模型推演（假设），并非已批准的规划。"],
        notes_en=[*run.project.notes_en, "Sites are a model result (hypothetical), not a plan."],
        attribution=run.attribution,
        max_points=run.project.limits.map_points,
    )


# --------------------------------------------------------------------------- 片区


def catchments_map(result: Any):
    """The 片区: points and facilities coloured by hub, hubs as stars, hulls per hub."""
    from . import maps

    hubs = list(result.hubs)
    colour_of = {h: _HUB_COLOURS[i % len(_HUB_COLOURS)] for i, h in enumerate(hubs)}
    points = result.points
    colours = points["hub_id"].map(lambda h: colour_of.get(h, "#999999"))
    names = dict(zip(result.facilities["facility_id"], result.facilities["name"], strict=True))
    pts = gpd.GeoDataFrame(
        {
            "colour": colours.to_numpy(),
            "tip": [
                f"片区 catchment: {names.get(h, '—')}\n{p:,.0f} 人 people"
                for h, p in zip(points["hub_id"], points["population"], strict=True)
            ],
        },
        geometry=gpd.points_from_xy(points["x"], points["y"]),
        crs=result.run.network.crs,
    )
    areas = result.areas.copy()
    areas["colour"] = areas["hub_id"].map(colour_of)
    areas["tip"] = [
        f"片区 catchment: {n}\n{f} 个设施 facilities, {p:,.0f} 人 people"
        for n, f, p in zip(areas["name"], areas["facilities"], areas["population"], strict=True)
    ]
    fac = result.facilities.copy()
    fac["colour"] = fac["hub_id"].map(lambda h: colour_of.get(h, "#999999"))
    fac["tip"] = [
        f"{n}（{fid}）\n片区 catchment: {names.get(h, '—')}"
        + (f"，{t / 60:.1f} 分钟 min" if math.isfinite(t) else "")
        for n, fid, h, t in zip(
            fac["name"], fac["facility_id"], fac["hub_id"], fac["travel_time_s"], strict=True
        )
    ]
    members = fac[~fac["is_hub"]]
    centres = fac[fac["is_hub"]]
    layers = [
        maps.FeatureLayer(
            "片区范围（凸包）/ catchment hulls",
            areas,
            kind="areas",
            style={"weight": 2, "opacity": 0.9, "fillOpacity": 0.12, "dashArray": "5 4"},
            colour_column="colour",
            tooltip_column="tip",
            swatch=_HUB_COLOURS[0],
        ),
        maps.FeatureLayer(
            "需求点（按片区着色）/ demand points by catchment",
            pts,
            kind="points",
            style={"radius": 2.6, "weight": 0, "fillOpacity": 0.7},
            colour_column="colour",
            tooltip_column="tip",
            swatch=_HUB_COLOURS[0],
        ),
        maps.FeatureLayer(
            f"片区内设施 / facilities of the tier ({len(members)})",
            members,
            kind="points",
            style={"radius": 6.5, "color": "#ffffff", "weight": 1.5, "fillOpacity": 0.95},
            colour_column="colour",
            tooltip_column="tip",
            swatch=_HUB_COLOURS[0],
        ),
        maps.FeatureLayer(
            f"片区中心 / sub-centres ({len(centres)})",
            centres,
            kind="markers",
            shape="star",
            style={"color": _HUB_COLOURS[0], "size": 24},
            colour_column="colour",
            tooltip_column="tip",
        ),
    ]
    legend_rows = [
        (
            "star",
            colour_of[h],
            f"{names.get(h, h)}（{int(a.facilities)} 个设施, {a.population:,.0f} 人）",
        )
        for h, a in zip(result.areas["hub_id"], result.areas.itertuples(index=False), strict=True)
    ]
    project = result.run.project
    return maps.feature_map(
        title_zh=f"{project.area} 片区划分",
        title_en=f"{project.area_en}: sub-centres and catchments",
        boundary=result.run.boundary,
        layers=layers,
        legend=[("片区中心 / Sub-centres", legend_rows)],
        notes_zh=list(project.notes_zh),
        notes_en=list(project.notes_en),
        attribution=result.run.attribution,
        max_points=project.limits.map_points,
    )
