"""The project schema (geoplan.workflows.config): strict keys, typed values, one study area, several
facility files, the generated documentation and `geoplan init --boundary`.

Most cases run on a tiny hand-made project (``tests/data/network/tiny_roads.osm``, a few
residents and facilities written here) so that a whole run takes a second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from geoplan.cli import main
from geoplan.errors import ConfigError
from geoplan.workflows.project import load_project, run_project

DATA = Path(__file__).parent / "data"
TINY_OSM = DATA / "network" / "tiny_roads.osm"

# Residents on the tiny network's streets (lon/lat, WGS84): three inside the boundary below,
# P5 about 166 m north of it (outside the 100 m tolerance).
PEOPLE = """demand_id,lon,lat,人口
P1,117.0005,30.0000,100
P2,117.0015,30.0000,200
P3,117.0020,30.0005,300
P5,117.0010,30.0030,400
"""
HEALTH = """编号,名称,类型,经度,纬度,床位数
1,测试社区卫生服务中心,社区卫生服务中心,117.0010,30.0001,20
2,测试社区卫生服务站,社区卫生服务站,117.0020,30.0008,0
"""
FITNESS = """编号,名称,类型,经度,纬度
1,测试健身广场,健身广场,117.0020,30.0010
2,,健身广场,117.0005,30.0000
"""
BOUNDARY = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "测试镇"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [116.9995, 29.9995],
                        [117.0025, 29.9995],
                        [117.0025, 30.0015],
                        [116.9995, 30.0015],
                        [116.9995, 29.9995],
                    ]
                ],
            },
        }
    ],
}

PROJECT = """[project]
area = "测试镇"

[network]
path = "{osm}"
walk_speed_m_per_min = 70

[demand]
path = "people.csv"

[facilities]
path = "health.csv"
max_snap_m = 500

[boundary]
path = "boundary.geojson"

[gaps]
cell_m = 500

[[rules]]
id = "medical_walk_15"
categories = ["medical"]
mode = "walk"
threshold_min = 15
target_share = 1.0
"""


def write_tiny(folder: Path, text: str | None = None) -> Path:
    """The tiny project in ``folder`` (its inputs too); ``text`` replaces the project file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (folder / "health.csv").write_text(HEALTH, encoding="utf-8")
    (folder / "fitness.csv").write_text(FITNESS, encoding="utf-8")
    (folder / "boundary.geojson").write_text(json.dumps(BOUNDARY), encoding="utf-8")
    path = folder / "p.toml"
    path.write_text(text or PROJECT.format(osm=TINY_OSM.as_posix()), encoding="utf-8")
    return path


def edited(folder: Path, old: str, new: str) -> Path:
    """The tiny project with ``old`` replaced by ``new`` (``old`` must occur)."""
    text = PROJECT.format(osm=TINY_OSM.as_posix())
    assert old in text, old
    return write_tiny(folder, text.replace(old, new, 1))


def without_table(folder: Path, *names: str) -> Path:
    """The tiny project without the tables ``names`` (e.g. ``"boundary"``)."""
    text = PROJECT.format(osm=TINY_OSM.as_posix())
    for name in names:
        start = text.index(f"[{name}]")
        end = text.index("\n[", start + 1) + 1
        text = text[:start] + text[end:]
    return write_tiny(folder, text)


def one_line_error(capsys) -> str:
    """The stderr of a command that failed: exactly one line ``geoplan: error: …``."""
    err = capsys.readouterr().err
    assert err.startswith("geoplan: error: "), err
    assert err.count("\n") == 1, err
    return err


# --------------------------------------------------------------------------- issue 11 defects
# Each of these failed on the code before geoplan.workflows.config
# (see /work/notes/h-config-note.md).


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "walk_speed_m_per_min = 70",
            "walk_speed = 60",
            "`walk_speed`: unknown key in [network]; did you mean `walk_speed_m_per_min`?",
        ),
        (
            "max_snap_m = 500",
            'max_snap_m = 500\ncoordinate_system = "gcj02"',
            "`coordinate_system`: unknown key in [facilities]; did you mean `crs`?",
        ),
        ("cell_m = 500", "cellm = 100", "`cellm`: unknown key in [gaps]; did you mean `cell_m`?"),
        (
            "max_snap_m = 500",
            "max_snapm = 5",
            "`max_snapm`: unknown key in [facilities]; did you mean `max_snap_m`?",
        ),
        (
            'path = "people.csv"',
            'path = "people.csv"\nspacingm = 50',
            "`spacingm`: unknown key in [demand]; did you mean `spacing_m`?",
        ),
    ],
)
def test_misspelt_keys_are_refused_with_the_closest_key(tmp_path, capsys, old, new, message):
    project = edited(tmp_path, old, new)
    assert main(["run", str(project), "--out", str(tmp_path / "out")]) == 1
    err = one_line_error(capsys)
    assert err.startswith(f"geoplan: error: p.toml: {message} / ")  # then the same in Chinese
    assert not (tmp_path / "out").exists()


def test_a_list_of_facility_paths_is_one_line(tmp_path, capsys):
    project = edited(tmp_path, 'path = "health.csv"', 'path = ["health.csv", "fitness.csv"]')
    assert main(["run", str(project), "--out", str(tmp_path / "out")]) == 1
    err = one_line_error(capsys)
    assert "p.toml: [facilities] path:" in err and "[[facilities]]" in err


def test_check_without_boundary_or_units_treats_the_area_as_one_unit(
    tmp_path, capsys, plan_indicators
):
    project = without_table(tmp_path, "boundary")
    out = tmp_path / "check"
    assert main(["-q", "check", str(project), "--plan", "leshan_shizhong", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["project"]["units"] == 1
    # no boundary: every resident of the demand file is in the area
    assert summary["project"]["population_in_units"] == pytest.approx(1000.0)
    checks = (out / "checks.csv").read_text(encoding="utf-8-sig")
    assert "测试镇" in checks


def test_without_units_residents_belong_to_the_area_not_outside(tmp_path):
    result = run_project(without_table(tmp_path, "boundary"), tmp_path / "out")
    by_unit = result.by_unit
    assert list(by_unit["unit_name"]) == ["测试镇"]
    assert by_unit["population"].sum() == pytest.approx(1000.0)


def test_run_and_check_count_the_same_residents(tmp_path, plan_indicators):
    project = write_tiny(tmp_path)
    run = run_project(project, tmp_path / "run").summary
    check_args = ["check", str(project), "--plan", "leshan_shizhong"]
    assert main(["-q", *check_args, "--out", str(tmp_path / "check")]) == 0
    check = json.loads((tmp_path / "check" / "summary.json").read_text(encoding="utf-8"))
    # P5 lies 166 m outside the boundary: not a resident of the area in either command
    assert run["population_total"] == pytest.approx(600.0)
    assert check["project"]["population_in_units"] == pytest.approx(run["population_total"])
    assert run["demand_outside_area"]["population"] == pytest.approx(400.0)
    assert run["demand_outside_area"]["points"] == 1


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("max_snap_m = 500", "max_snap_m = -1", "[facilities] max_snap_m"),
        ("threshold_min = 15", "threshold_min = inf", "[[rules]] #1 threshold_min"),
        ("threshold_min = 15", "threshold_min = 1e9", "[[rules]] #1 threshold_min"),
        ("target_share = 1.0", "target_share = 1.5", "[[rules]] #1 target_share"),
        ("walk_speed_m_per_min = 70", 'walk_speed_m_per_min = "fast"', "[network] walk_speed"),
        ("walk_speed_m_per_min = 70", "walk_speed_m_per_min = 0", "[network] walk_speed"),
        ("walk_speed_m_per_min = 70", "walk_speed_m_per_min = nan", "[network] walk_speed"),
        ("max_snap_m = 500", 'max_snap_m = "500"', "[facilities] max_snap_m"),
        ("cell_m = 500", 'cell_m = "500"', "[gaps] cell_m"),
        ("cell_m = 500", "cell_m = 0", "[gaps] cell_m"),
        ("cell_m = 500", "cell_m = -5", "[gaps] cell_m"),
        ('path = "health.csv"', "path = 5", "[facilities] path"),
        ('path = "people.csv"', 'path = "people.csv"\nspacing_m = 0.001', "[demand] spacing_m"),
    ],
)
def test_bad_values_are_one_line_naming_file_table_and_key(tmp_path, capsys, old, new, where):
    project = edited(tmp_path, old, new)
    assert main(["run", str(project), "--out", str(tmp_path / "out")]) == 1
    err = one_line_error(capsys)
    assert err.startswith(f"geoplan: error: p.toml: {where}"), err
    assert not (tmp_path / "out").exists()


def test_a_missing_population_column_is_one_line(tmp_path, capsys):
    import networkx as nx

    graph = nx.MultiDiGraph(crs="EPSG:4326")
    graph.add_node(1, x=117.0, y=30.0)
    graph.add_node(2, x=117.001, y=30.0)
    graph.add_edge(1, 2, population="10", cell_id="c1")
    nx.write_graphml(graph, tmp_path / "people.graphml")
    project = edited(
        tmp_path,
        'path = "people.csv"',
        'path = "people.graphml"\nformat = "graphml_edges"\npopulation_column = "pop2"',
    )
    assert main(["-q", "run", str(project), "--out", str(tmp_path / "out")]) == 1
    err = one_line_error(capsys)
    assert "pop2" in err and "people.graphml" in err


def test_a_folder_given_as_the_project_is_one_line(tmp_path, capsys):
    write_tiny(tmp_path / "proj")
    assert main(["run", str(tmp_path / "proj"), "--out", str(tmp_path / "out")]) == 1
    err = one_line_error(capsys)
    assert "is a folder" in err and "p.toml" in err


def test_load_project_names_the_table_of_a_misplaced_key(tmp_path):
    project = edited(tmp_path, "walk_speed_m_per_min = 70", "max_snap_m = 500")
    with pytest.raises(ConfigError, match=r"`max_snap_m`: unknown key in \[network\]; it belongs"):
        load_project(project)


# --------------------------------------------------------------------------- several facility files

SEVERAL = """
[[facilities]]
path = "health.csv"

[[facilities]]
path = "fitness.csv"
id_prefix = "fit"
crs = "wgs84"

[[rules]]
id = "fitness_walk_15"
categories = "fitness"
mode = "walk"
threshold_min = 15
"""


def several_files(folder: Path) -> Path:
    """The tiny project with a health list and a fitness list (ids 1, 2 in both)."""
    text = PROJECT.format(osm=TINY_OSM.as_posix())
    text = text.replace('[facilities]\npath = "health.csv"\nmax_snap_m = 500\n', "")
    return write_tiny(folder, text + SEVERAL)


def test_several_facility_files_are_read_with_unique_ids_and_their_file(tmp_path):
    project = load_project(several_files(tmp_path))
    assert [t.get("id_prefix") for t in project.facility_tables] == ["health", "fit"]
    with pytest.raises(ConfigError, match=r"reads one facility file, but the project has 2"):
        project.facilities  # noqa: B018 (a property: code reading one file must not guess)
    result = run_project(project, tmp_path / "out")
    used = result.facilities.set_index("facility_id")
    assert sorted(used.index) == ["fit:1", "health:1", "health:2"]
    assert used.loc["fit:1", "source_file"] == "fitness.csv"
    assert used.loc["health:2", "source_file"] == "health.csv"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["facilities"]["read"] == 4 and summary["facilities"]["used"] == 3
    assert summary["facilities"]["files"] == [
        {"source_file": "health.csv", "id_prefix": "health", "used": 2, "rejected": 0},
        {"source_file": "fitness.csv", "id_prefix": "fit", "used": 1, "rejected": 1},
    ]
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rejects[["source_file", "source_row", "reason_code"]].values.tolist() == [
        ["fitness.csv", "3", "missing_name"]
    ]
    record = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert {"facilities_1", "facilities_2"} <= set(record["inputs"])
    points = pd.read_csv(tmp_path / "out" / "coverage_points.csv", encoding="utf-8-sig")
    assert set(points["fitness_walk_15_facility_id"]) == {"fit:1"}


def test_several_facility_files_in_check_scenario_sites_and_batch(
    tmp_path, capsys, plan_indicators
):
    from geoplan.workflows.batch import areas_from, run_area

    project = several_files(tmp_path)
    run = run_project(project, tmp_path / "run").summary
    check_args = ["check", str(project), "--plan", "leshan_shizhong"]
    assert main(["-q", *check_args, "--out", str(tmp_path / "check")]) == 0
    check = json.loads((tmp_path / "check" / "summary.json").read_text(encoding="utf-8"))
    assert check["project"]["facilities_used"] == 3
    assert check["project"]["population_in_units"] == pytest.approx(run["population_total"])
    # 床位数 is a column of health.csv only: the fitness rows have none
    assert "床位数" in check["project"]["facility_attribute_columns"]

    out = tmp_path / "scenario"
    assert main(["-q", "scenario", str(project), "--close", "health:1", "--out", str(out)]) == 0
    scenario = json.loads((out / "scenario_summary.json").read_text(encoding="utf-8"))
    assert scenario["facilities"]["before"] == 3 and scenario["facilities"]["after"] == 2

    out = tmp_path / "sites"
    args = ["-q", "sites", str(project), "--rule", "fitness_walk_15", "--grid", "100"]
    assert main([*args, "--model", "mclp", "--p", "1", "--out", str(out)]) == 0
    sites = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert sites["population_total"] == pytest.approx(run["population_total"])

    batch = tmp_path / "batch.toml"
    batch.write_text(f'[batch]\ntemplate = "{project.name}"\nunits = "boundary.geojson"\n')
    (area,) = areas_from(batch)
    record = run_area(area, tmp_path / "batch")
    assert record["ok"], record["error"]
    assert record["summary"]["facilities"]["used"] == 3


def test_facility_id_prefixes_must_differ(tmp_path):
    project = several_files(tmp_path)
    text = project.read_text(encoding="utf-8").replace('id_prefix = "fit"', 'id_prefix = "health"')
    project.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"#1 and #2 would share the id prefix 'health'"):
        load_project(project)


def test_files_without_coordinates_are_geocoded_per_file(tmp_path):
    village = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "测试村", "level": "village"},
                "geometry": BOUNDARY["features"][0]["geometry"],
            }
        ],
    }
    (tmp_path / "villages.geojson").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "villages.geojson").write_text(json.dumps(village), encoding="utf-8")
    project = several_files(tmp_path)
    (tmp_path / "fitness.csv").write_text(
        "编号,名称,类型,经度,纬度,地址\n1,测试村健身广场,健身广场,,,测试村\n", encoding="utf-8"
    )
    text = project.read_text(encoding="utf-8")
    text += '\n[geocode]\nadmin = {village = "villages.geojson"}\nmin_precision = "village"\n'
    project.write_text(text, encoding="utf-8")
    result = run_project(project, tmp_path / "out")
    used = result.facilities.set_index("facility_id")
    assert used.loc["fit:1", "coord_source"] == "geocoded"
    assert used.loc["fit:1", "source_file"] == "fitness.csv"
    assert used.loc["health:1", "coord_source"] == "wgs84"


# --------------------------------------------------------------------------- the study area


def test_scenario_and_sites_count_the_residents_run_counts(tmp_path):
    from geoplan.workflows.scenario import run_scenario
    from geoplan.workflows.sites import select_sites

    project = write_tiny(tmp_path)
    run = run_project(project, tmp_path / "run")
    scenario = run_scenario(project, close=["1"])
    assert scenario.summary["population_total"] == run.summary["population_total"]
    before = scenario.summary["rules"][0]["before"]
    assert before["population_covered"] == run.summary["rules"][0]["population_covered"]
    sites = select_sites(project, rule="medical_walk_15", model="mclp", p=1, grid_m=100)
    assert sites.run.summary["population_total"] == run.summary["population_total"]


def test_units_take_residents_just_outside_them(tmp_path):
    # units = the boundary cut in two at 117.0012°E; P2 (117.0015) is 0 m outside neither
    halves = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[x0, 29.9995], [x1, 29.9995], [x1, 30.0012], [x0, 30.0012], [x0, 29.9995]]
                    ],
                },
            }
            for name, x0, x1 in (("西", 116.9995, 117.0012), ("东", 117.0012, 117.0025))
        ],
    }
    project = write_tiny(tmp_path)
    (tmp_path / "halves.geojson").write_text(json.dumps(halves), encoding="utf-8")
    text = project.read_text(encoding="utf-8")
    project.write_text(text + '\n[units]\npath = "halves.geojson"\n', encoding="utf-8")
    by_unit = run_project(project, tmp_path / "out").by_unit.set_index("unit_name")
    # P3 (117.0020, 30.0005) is in 东; nobody of the 600 residents is outside every unit
    assert by_unit["population"].sum() == pytest.approx(600.0)
    assert "(区域外 / outside all units)" not in by_unit.index
    assert by_unit.loc["西", "population"] == pytest.approx(100.0)


# --------------------------------------------------------------------------- the schema itself


def test_every_demand_reader_option_is_in_the_schema_with_its_formats():
    import inspect

    from geoplan.readers import demand
    from geoplan.workflows import config

    readers = {
        "raster": demand.demand_from_raster,
        "points": demand.demand_from_points,
        "lines": demand.demand_from_lines,
        "polygons": demand.demand_from_polygons,
        "graphml_edges": demand.demand_from_graphml_edges,
    }
    table = config.PROJECT_FILE.table("demand")
    schema = {k.name: set(k.applies) for k in table.keys if k.applies}
    found: dict[str, set] = {}
    for fmt, reader in readers.items():
        for name, param in inspect.signature(reader).parameters.items():
            if param.kind is inspect.Parameter.KEYWORD_ONLY and name != "boundary":
                found.setdefault(name, set()).add(fmt)
    assert schema == found


def test_schema_defaults_are_the_functions_defaults():
    import inspect

    from geoplan.analysis.gaps import find_gaps
    from geoplan.readers.facilities import read_facilities
    from geoplan.readers.geocode import geocode_missing
    from geoplan.workflows import config

    facilities = config.PROJECT_FILE.table("facilities")
    default = inspect.signature(read_facilities).parameters["boundary_tolerance_m"].default
    assert facilities.key("boundary_tolerance_m").default == default
    assert config.GAPS.key("cell_m").default == (
        inspect.signature(find_gaps).parameters["cell_m"].default
    )
    assert config.GEOCODE.key("min_precision").default == (
        inspect.signature(geocode_missing).parameters["min_precision"].default
    )


def test_values_are_typed_and_defaults_filled(tmp_path):
    project = load_project(write_tiny(tmp_path))
    assert project.network["walk_speed_m_per_min"] == 70.0
    assert isinstance(project.network["walk_speed_m_per_min"], float)
    assert project.facilities["boundary_tolerance_m"] == 100.0
    assert project.boundary["tolerance_m"] == 100.0 and project.boundary["format"] == "auto"
    assert project.gaps == {"cell_m": 500.0, "merge_contiguous": False}
    assert project.area_en == "测试镇"  # defaults to area
    assert project.rules[0].name_zh == "medical_walk_15"  # defaults to the id


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "",
            "[facility]\npath = 'x'\n",
            r"\[facility\]: unknown table in a project file; did you mean \[facilities\]\?",
        ),
        ("^", "area = 'x'\n", r"`area`: a key outside any table; it belongs in \[project\]"),
        (
            "cell_m = 500",
            "cell_m = 500\nmax_snap_m = 5",
            r"`max_snap_m`: unknown key in \[gaps\]; it belongs in \[facilities\]",
        ),
        (
            "cell_m = 500",
            "zzz = 1",
            r"`zzz`: unknown key in \[gaps\]; known keys: cell_m, merge_contiguous",
        ),
        ("", "[network]\npath = 'n'\n", r"p.toml: not a valid UTF-8 TOML file"),  # declared twice
        (
            'path = "people.csv"',
            'path = "people.csv"\nspacing_m = 20',
            r"\[demand\] spacing_m: does not apply to points demand",
        ),
        (
            'path = "boundary.geojson"',
            'path = "boundary.geojson"\nlevel = "province"',
            r"\[boundary\] level: must be one of",
        ),
        (
            "",
            "[[rules]]\nid = 'medical_walk_15'\ncategories = ['x']\nmode = 'walk'\n"
            "threshold_min = 5\n",
            r"rule id 'medical_walk_15' is used twice",
        ),
        ("", "[units]\nname_column = 'x'\n", r"\[units\]: missing `path` \(Polygon layer\)"),
        ("[[rules]]", "[rules]", r"rules must be one or more \[\[rules\]\] tables"),
    ],
)
def test_structural_mistakes_name_the_table(tmp_path, old, new, message):
    text = PROJECT.format(osm=TINY_OSM.as_posix())
    if old == "":
        text += "\n" + new
    elif old == "^":
        text = new + text
    else:
        assert old in text
        text = text.replace(old, new, 1)
    with pytest.raises(ConfigError, match=message):
        load_project(write_tiny(tmp_path, text))


def test_scenario_and_batch_files_are_checked_too(tmp_path):
    from geoplan.workflows.batch import areas_from
    from geoplan.workflows.scenario import load_scenario_file

    write_tiny(tmp_path)
    scenario = tmp_path / "s.toml"
    scenario.write_text('[scenario]\nproject = "p.toml"\nclosed = ["1"]\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"`closed`: unknown key in \[scenario\]; did you mean `close`"
    ):
        load_scenario_file(scenario)
    scenario.write_text(
        '[scenario]\nproject = "p.toml"\n[[scenario.move]]\nid = "1"\nlon = 190\nlat = 30\n',
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError,
        match=r"s.toml: \[\[scenario.move\]\] #1 lon: must be a number of degrees from -180 to 180",
    ):
        load_scenario_file(scenario)
    batch = tmp_path / "b.toml"
    batch.write_text('[[areas]]\nproject = "p.toml"\nslugs = "x"\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"`slugs`: unknown key in \[\[areas\]\] #1; did you mean `slug`"
    ):
        areas_from(batch)


def test_json_outputs_refuse_nan_and_infinity(tmp_path):
    from geoplan import _io
    from geoplan.errors import OutputError

    with pytest.raises(
        OutputError, match=r"summary.json: rules\[1\].share_covered is not a finite"
    ):
        _io.write_json(
            tmp_path / "summary.json",
            {"rules": [{"share_covered": 0.5}, {"share_covered": float("nan")}]},
        )
    assert not (tmp_path / "summary.json").exists()
    _io.write_json(tmp_path / "ok.json", {"a": [1.5, None]})
    assert json.loads((tmp_path / "ok.json").read_text(encoding="utf-8")) == {"a": [1.5, None]}


def test_reference_documentation_is_generated_from_the_schema():
    from geoplan.workflows import config

    assert config.DOC_PATH.read_text(encoding="utf-8") == config.reference_markdown(), (
        "docs/project-file.md is out of date: run python -m geoplan.workflows.config"
    )
    text = config.DOC_PATH.read_text(encoding="utf-8")
    for schema in (config.PROJECT_FILE, config.SCENARIO_FILE, config.BATCH_FILE):
        for table in schema.tables:
            assert f"`{table.title}`" in text
            for key in table.keys:
                assert f"| `{key.name}` |" in text


# ------------------------------------------------------------------------ geoplan init --boundary


def test_init_from_a_boundary_writes_a_commented_valid_project(tmp_path, capsys):
    from geoplan.workflows import config

    halves = {
        "type": "FeatureCollection",
        "features": [
            {**BOUNDARY["features"][0], "properties": {"name": "甲镇", "code": "001"}},
            {**BOUNDARY["features"][0], "properties": {"name": "乙镇", "code": "002"}},
        ],
    }
    source = tmp_path / "area.geojson"
    source.write_text(json.dumps(halves), encoding="utf-8")
    out = tmp_path / "proj"
    args = ["init", "--boundary", str(source), "--name", "某县", "--out", str(out)]
    assert main(args) == 0
    assert "project.toml" in capsys.readouterr().out
    text = (out / "project.toml").read_text(encoding="utf-8")
    joined = re.sub(r"[\s#]", "", text)  # comments wrap (Chinese ones without spaces)
    for table in config.PROJECT_FILE.tables:  # every table and key, with its meaning
        assert f"{table.title}" in text or f"[{table.name}]" in text
        for key in table.keys:
            assert f"{key.name} = " in text and re.sub(r"\s", "", key.zh) in joined
    project = load_project(out / "project.toml")
    assert project.area == "某县"
    assert project.units["path"] == "boundary.geojson"  # several polygons: also the units
    assert project.rules[0].id == "medical_walk_15"
    # the blank project runs once its TODO inputs are filled in
    write_tiny(out / "inputs")
    text = text.replace('"roads.osm.pbf"', f'"{TINY_OSM.as_posix()}"')
    text = text.replace('"population.tif"', '"inputs/people.csv"')
    text = text.replace('"facilities_template.csv"', '"inputs/health.csv"')
    (out / "project.toml").write_text(text, encoding="utf-8")
    summary = run_project(out / "project.toml", tmp_path / "result").summary
    assert summary["population_total"] == pytest.approx(600.0)
    assert main(args) == 1  # refuses to overwrite
    assert "--overwrite" in one_line_error(capsys)
    assert main(["init", "平罗县", "--boundary", str(source), "--out", str(tmp_path / "x")]) == 1
    assert "not both" in one_line_error(capsys)


def test_init_from_one_polygon_takes_its_name(tmp_path):
    from geoplan.workflows.init import init_from_boundary

    source = tmp_path / "town.geojson"
    source.write_text(json.dumps(BOUNDARY), encoding="utf-8")
    init_from_boundary(source, tmp_path / "proj")
    project = load_project(tmp_path / "proj" / "project.toml")
    assert project.area == "测试镇" and project.units is None


def test_traveltimes_walk_speed_is_checked_like_the_project_key(tmp_path, capsys):
    write_tiny(tmp_path)
    args = ["traveltimes", "--network", str(TINY_OSM), "--facilities", str(tmp_path / "health.csv")]
    args += ["--demand", str(tmp_path / "people.csv"), "--out", str(tmp_path / "t.csv")]
    assert main([*args, "--walk-speed", "1000"]) == 1
    assert "--walk-speed: must be a number of m/min from 20 to 150" in one_line_error(capsys)
    assert not (tmp_path / "t.csv").exists()


def test_the_reference_writer_takes_options_not_file_names(tmp_path, capsys, monkeypatch):
    """``python -m geoplan.workflows.config --help`` used to write a file named --help."""
    from geoplan.workflows import config

    monkeypatch.chdir(tmp_path)
    assert config.main(["--help"]) == 0
    assert "--check" in capsys.readouterr().out
    assert not (tmp_path / "--help").exists()
    assert config.main(["--bogus"]) == 2
    assert not (tmp_path / "--bogus").exists()
    out = tmp_path / "reference.md"
    assert config.main(["--check", str(out)]) == 1 and not out.exists()
    assert config.main([str(out)]) == 0
    assert config.main(["--check", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == config.reference_markdown()
