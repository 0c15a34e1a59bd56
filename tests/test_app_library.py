"""What the local app (``geoplan serve``) needs from the library, tested without it: column and
category mappings in the facility reader and the project file, project files written from
user text, and the run's stage progress."""

from __future__ import annotations

import pytest

from geoplan._io import read_toml
from geoplan.errors import ConfigError, InputError
from geoplan.readers.facilities import HeaderError, read_facilities
from geoplan.workflows.project import load_project

BOUNDARY = "geoplan:boundaries/huangshi_tuanchengshan_official.geojson"


def _csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- project text


def test_init_name_with_line_breaks_cannot_write_keys(tmp_path):
    """A name is user text: a line break in it must not end the header comment and start a
    table of its own (before: the name's second line became TOML)."""
    from geoplan._paths import shipped_path
    from geoplan.workflows.init import init_from_boundary

    name = '某县\n[limits]\ndemand_points = 1\r\n"x" = 2\x0b\x00'
    paths = init_from_boundary(
        shipped_path(BOUNDARY.removeprefix("geoplan:")), tmp_path / "p", name=name
    )
    data = read_toml(paths["project.toml"])
    assert data["project"]["area"] == name.strip()
    assert "limits" not in data


HOSTILE = "<img src=x onerror=alert(1)>{{7*7}} \"q\" \\ 's' = [t]"


def test_project_template_writes_several_tables_and_any_text_as_data(tmp_path):
    """Facility files and rules as lists, user text (quotes, backslashes, brackets, Chinese
    keys) as TOML literals: the written file reads back to exactly the values given."""
    from geoplan.workflows.config import project_template

    facilities = [
        {
            "path": "inputs/a.xlsx",
            "crs": "gcj02",
            "columns": {"name": "单位 名称", "facility_id": ""},
            "categories": {HOSTILE: "clinic", "社康中心": "community_health_centre"},
        },
        {"path": "inputs/b.csv", "id_prefix": "fit"},
    ]
    rules = [
        {
            "id": "r1",
            "name_zh": HOSTILE,
            "name_en": "x",
            "categories": ["medical"],
            "mode": "walk",
            "threshold_min": 15.0,
            "target_share": 0.9,
        },
        {"id": "r2", "categories": ["fitness"], "mode": "bike", "threshold_min": 7.5},
    ]
    text = project_template(
        header=[f"project {HOSTILE}\n[limits]"],
        values={
            "project": {"area": HOSTILE, "area_en": "A"},
            "network": {"path": "n.graphml"},
            "demand": {"path": "d.tif"},
            "facilities": facilities,
            "rules": rules,
        },
    )
    data = read_toml(_write(tmp_path / "p.toml", text))
    assert data["project"]["area"] == HOSTILE
    assert data["facilities"] == facilities
    assert data["rules"] == rules
    assert "limits" not in data


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- column mapping

TABLE = (
    "单位,类别说明,东经度,北纬度,编号\n"
    "甲卫生院,乡镇卫生院,106.40,38.80,1\n"
    "乙中心,社康中心,106.41,38.81,2\n"
    "丙室,村卫生室,106.42,38.82,3\n"
)


def test_column_mapping_names_headers_the_aliases_do_not_know(tmp_path):
    path = _csv(tmp_path / "f.csv", TABLE)
    with pytest.raises(HeaderError) as caught:  # nothing recognisable: name, category, lon …
        read_facilities(path)
    assert caught.value.headers == ["单位", "类别说明", "东经度", "北纬度", "编号"]
    assert caught.value.row == 1
    mapping = {"name": "单位", "category": "类别说明", "lon": "东经度", "lat": "北纬度"}
    table = read_facilities(path, columns=mapping)
    assert table.read == 3
    assert list(table.used["name"]) == ["甲卫生院", "丙室"]  # 社康中心 is not a known type
    assert list(table.used["facility_id"]) == ["1", "3"]  # 编号 still recognised by itself
    assert list(table.rejects["reason_code"]) == ["unknown_category"]
    # "" = the file has no such column: ids are then row numbers
    table = read_facilities(path, columns={**mapping, "facility_id": ""})
    assert list(table.used["facility_id"]) == ["row-2", "row-4"]


def test_category_mapping_fixes_a_type_and_wins_over_the_aliases(tmp_path):
    path = _csv(tmp_path / "f.csv", TABLE)
    mapping = {"name": "单位", "category": "类别说明", "lon": "东经度", "lat": "北纬度"}
    table = read_facilities(
        path,
        columns=mapping,
        categories={" 社康中心 ": "community_health_centre", "村卫生室": "clinic"},
    )
    assert table.rejects.empty
    assert dict(zip(table.used["name"], table.used["category"], strict=True)) == {
        "甲卫生院": "township_hospital",
        "乙中心": "community_health_centre",
        "丙室": "clinic",
    }


def test_mappings_that_cannot_be_right_are_refused(tmp_path):
    path = _csv(tmp_path / "f.csv", TABLE)
    mapping = {"name": "单位", "category": "类别说明", "lon": "东经度", "lat": "北纬度"}
    with pytest.raises(ConfigError, match="unknown field"):
        read_facilities(path, columns={**mapping, "nmae": "单位"})
    with pytest.raises(ConfigError, match="not a category key"):
        read_facilities(path, columns=mapping, categories={"社康中心": "health_centre"})
    # a mapped header the file lacks is never replaced silently by an auto-detected one
    ok = _csv(tmp_path / "ok.csv", "名称,类型,经度,纬度,单位\n甲,诊所,106.4,38.8,x\n")
    with pytest.raises(InputError, match="名 称"):
        read_facilities(ok, columns={"name": "名 称"})


def test_project_file_carries_the_mappings_to_the_run(tmp_path, demo_project):
    """``[facilities] columns`` and ``categories`` reach the reader of every command; wrong
    field names and category keys are one line naming the key."""
    from geoplan.workflows.project import read_project_facilities

    source = tmp_path / "renamed.csv"
    demo_csv = load_project(demo_project()).resolve(load_project(demo_project()).facilities["path"])
    text = demo_csv.read_text(encoding="utf-8-sig").replace("名称", "单位", 1)
    text = text.replace("社区卫生服务中心", "社康中心")
    source.write_text(text, encoding="utf-8")
    mapping = '\ncolumns = {name = "单位"}\ncategories = {"社康中心" = "community_health_centre"}\n'
    path = demo_project(
        "mapped.toml",
        {f'path = "{demo_csv.as_posix()}"': f'path = "{source.as_posix()}"{mapping}'},
    )
    project = load_project(path)
    table, _ = read_project_facilities(project, None)
    assert table.rejects.empty
    assert (table.used["category"] == "community_health_centre").sum() == 1
    bad = demo_project("bad.toml", {"max_snap_m = 500": 'max_snap_m = 500\ncolumns = {nmae = "x"}'})
    with pytest.raises(ConfigError, match="did you mean `name`"):
        load_project(bad)
    bad = demo_project(
        "bad2.toml", {"max_snap_m = 500": 'max_snap_m = 500\ncategories = {"a" = "clinc"}'}
    )
    with pytest.raises(ConfigError, match="did you mean `clinic`"):
        load_project(bad)


def test_stage_callback_reports_every_stage_in_order(tmp_path, demo_project):
    from geoplan.workflows.project import STAGES, run_project

    seen = []
    run_project(demo_project(), tmp_path / "out", on_stage=lambda *a: seen.append(a))
    at = STAGES.index("gaps") + 1  # the demo asks for [sensitivity]: a stage after gaps
    stages = (*STAGES[:at], "sensitivity", *STAGES[at:])
    assert seen == [(name, i, len(stages)) for i, name in enumerate(stages)] + [
        ("", len(stages), len(stages))
    ]


def test_a_boundary_file_that_cannot_be_read_is_an_input_error(tmp_path):
    """A broken polygon file (a boundary uploaded to the app, ``geoplan init --boundary``)
    is one line naming the file, not a pyogrio traceback (before: DataSourceError)."""
    from geoplan.readers.boundaries import read_units

    bad = tmp_path / "area.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"area\.geojson: cannot be read"):
        read_units(bad)
