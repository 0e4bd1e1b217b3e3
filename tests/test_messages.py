"""Bad inputs through the real command line, in English and in Chinese (issue 14).

Every case writes its files, runs ``lifecircle`` once with ``--lang en`` and once with
``--lang zh`` and checks: exit code 2; the message names the file (or flag, or plan key)
and the row, feature or key; it has a fix; under zh it is Chinese and holds none of the
English problem text; nothing is written to the output folder; the inputs are
byte-identical afterwards. Then: the fix texts name only options and plan keys that exist;
a plan file's ``lang`` sets the language of messages; a Chinese run prints no English log
lines and its notes in Chinese.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from pydantic import BaseModel

from lifecircle.analysis import check_categories
from lifecircle.cli import cli, main
from lifecircle.config import PlanConfig
from lifecircle.errors import InputError
from lifecircle.geo.catalog import load_catalog
from lifecircle.i18n import translations
from tests.geo.osm_fixture import lonlat, write_osm

BEIJING = Path("/work/shared/data/beijing-bupt/map.osm")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _square(x: float, y: float, size: float = 100.0) -> list[list[float]]:
    """A closed ring in longitude/latitude of a square in the fixture's metres."""
    corners = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
    return [list(lonlat(cx, cy)) for cx, cy in corners]


def _units(*features: tuple[dict[str, Any], str]) -> str:
    """A GeoJSON of units: (properties, "square" or "point") per feature."""
    out = []
    for n, (props, kind) in enumerate(features):
        geometry: dict[str, Any] = (
            {"type": "Polygon", "coordinates": [_square(20.0 + 110 * n, -100.0)]}
            if kind == "square"
            else {"type": "Point", "coordinates": list(lonlat(50.0 + 100 * n, 50.0))}
        )
        out.append({"type": "Feature", "properties": props, "geometry": geometry})
    return json.dumps({"type": "FeatureCollection", "features": out}, ensure_ascii=False)


PLAN = '[inputs]\nosm = "x.osm"\n'
KINDERGARTEN = "name,category,lon,lat\n北邮幼儿园,kindergarten,{},{}\n".format(*lonlat(150, 60))


@dataclass(frozen=True)
class Case:
    """A bad input: the files to write, the arguments (``{d}`` is the folder), the source
    the message must name, its place in English and in Chinese (or None), and the English
    problem text that must not appear under zh."""

    files: dict[str, str | bytes]
    args: list[str]
    source: str
    place: tuple[str, str] | None
    english: str


PLAN_ARGS = ["plan", "{d}/plan.toml", "--out", "{d}/out"]


def _flags(*args: str) -> list[str]:
    return ["plan", "--osm", "{d}/x.osm", "--out", "{d}/out", *args]


CASES: dict[str, Case] = {
    # lifecircle/geo/units.py
    "units: a table, not a layer": Case(
        {"units.csv": "id,name\n1,a\n"},
        _flags("--units", "{d}/units.csv"),
        "units.csv",
        None,
        "is a table, not a boundary layer",
    ),
    "units: duplicate ids": Case(
        {"units.geojson": _units(({"id": "A"}, "square"), ({"id": "A"}, "square"))},
        _flags("--units", "{d}/units.geojson"),
        "units.geojson",
        ("column id", "列 id"),
        "duplicate unit ids",
    ),
    "units: population not a number": Case(
        {
            "units.geojson": _units(
                ({"id": "A", "population": 100}, "square"),
                ({"id": "B", "population": "many"}, "square"),
            )
        },
        _flags("--units", "{d}/units.geojson"),
        "units.geojson",
        ("features 2", "第 2 个要素"),
        "population is not a number",
    ),
    "units: projected coordinates without a crs member": Case(
        {
            "units.geojson": json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"id": "A"},
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [
                                    [
                                        [440000, 4420000],
                                        [440100, 4420000],
                                        [440100, 4420100],
                                        [440000, 4420000],
                                    ]
                                ],
                            },
                        }
                    ],
                }
            )
        },
        _flags("--units", "{d}/units.geojson"),
        "units.geojson",
        None,
        "coordinates look projected",
    ),
    "units: negative population": Case(
        {
            "units.geojson": _units(
                ({"id": "A", "population": -5}, "square"),
                ({"id": "B", "population": 10}, "square"),
            )
        },
        _flags("--units", "{d}/units.geojson"),
        "units.geojson",
        ("features 1", "第 1 个要素"),
        "negative population",
    ),
    # lifecircle/geo/build.py
    "build: units that are points": Case(
        {"units.geojson": _units(({"id": "A"}, "point"), ({"id": "B"}, "point"))},
        _flags("--units", "{d}/units.geojson"),
        "units.geojson",
        ("features 1, 2", "第 1, 2 个要素"),
        "holds no usable unit polygons",
    ),
    "build: facilities far outside (Beijing)": Case(
        {
            "poi.csv": "name,category,lon,lat\n北邮幼儿园,kindergarten,116.352,39.960\n"
            "far,kindergarten,121.47,31.23\n"
        },
        ["plan", "--osm", str(BEIJING), "--facilities", "{d}/poi.csv", "--out", "{d}/out"],
        "poi.csv",
        ("row 3", "第 3 行"),
        "outside the study area",
    ),
    "build: buffer below the thresholds": Case(
        {"plan.toml": PLAN + "[analysis]\nbuffer_m = 100\n"},
        PLAN_ARGS,
        "analysis.buffer_m",
        None,
        "is less than the largest walking threshold",
    ),
    # lifecircle/geo/residents.py
    "residents: no population column": Case(
        {"pop.csv": "name,lon,lat\na,{},{}\n".format(*lonlat(100, 50))},
        _flags("--population", "{d}/pop.csv"),
        "pop.csv",
        None,
        "no population column found",
    ),
    "residents: population not a number": Case(
        {"pop.csv": "人口,lon,lat\n10,{},{}\n十,{},{}\n".format(*lonlat(100, 50), *lonlat(40, 30))},
        _flags("--population", "{d}/pop.csv"),
        "pop.csv",
        ("row 3", "第 3 行"),
        "population is not a number",
    ),
    "residents: negative population": Case(
        {"pop.csv": "人口,lon,lat\n-10,{},{}\n".format(*lonlat(100, 50))},
        _flags("--population", "{d}/pop.csv"),
        "pop.csv",
        ("row 2", "第 2 行"),
        "negative population",
    ),
    # lifecircle/geo/crs.py
    "crs: unknown coordinate system": Case(
        {"units.geojson": _units(({"id": "A"}, "square"))},
        _flags("--units", "{d}/units.geojson", "--units-crs", "marsian"),
        "units.geojson",
        None,
        "unknown coordinate system",
    ),
    # lifecircle/config.py
    "plan: unknown key": Case(
        {"plan.toml": PLAN + 'units_file = "u.gpkg"\n'},
        PLAN_ARGS,
        "plan.toml",
        ("key inputs.units_file", "键 inputs.units_file"),
        "unknown key",
    ),
    "plan: a number below its bound": Case(
        {"plan.toml": PLAN + "[analysis]\nspeed_kmh = -4\n"},
        PLAN_ARGS,
        "plan.toml",
        ("key analysis.speed_kmh", "键 analysis.speed_kmh"),
        "Input should be greater than 0",
    ),
    "plan: not a number": Case(
        {"plan.toml": PLAN + '[analysis]\nunit_share = "half"\n'},
        PLAN_ARGS,
        "plan.toml",
        ("key analysis.unit_share", "键 analysis.unit_share"),
        "Input should be a valid number",
    ),
    "plan: a list that is not one": Case(
        {"plan.toml": PLAN + '[outputs]\nformats = "map"\n'},
        PLAN_ARGS,
        "plan.toml",
        ("key outputs.formats", "键 outputs.formats"),
        "Input should be a valid list",
    ),
    "plan: a choice that is not one": Case(
        {"plan.toml": PLAN + '[outputs]\nmap_measure = "beauty"\n'},
        PLAN_ARGS,
        "plan.toml",
        ("key outputs.map_measure", "键 outputs.map_measure"),
        "Input should be 'coverage' or 'completeness'",
    ),
    "plan: neither sites nor a target": Case(
        {"plan.toml": PLAN + '[[placement]]\ncategory = "pharmacy"\n'},
        PLAN_ARGS,
        "plan.toml",
        ("key placement.0", "键 placement.0"),
        "give exactly one of sites",
    ),
    "plan: unknown category": Case(
        {"plan.toml": PLAN + '[[placement]]\ncategory = "spaceport"\nsites = 1\n'},
        PLAN_ARGS,
        "plan.toml",
        ("key placement.0.category", "键 placement.0.category"),
        "unknown category",
    ),
    "plan: missing file": Case(
        {"plan.toml": '[inputs]\nosm = "nowhere.osm.pbf"\n'},
        PLAN_ARGS,
        "plan.toml",
        ("key inputs.osm", "键 inputs.osm"),
        "file not found",
    ),
    "plan: not TOML": Case(
        {"plan.toml": "[inputs\nosm = 1\n"},
        PLAN_ARGS,
        "plan.toml",
        None,
        "not valid TOML",
    ),
    "plan: not UTF-8": Case(
        {"plan.toml": 'title = "海淀"\n[inputs]\nosm = "x.osm"\n'.encode("gbk")},
        PLAN_ARGS,
        "plan.toml",
        None,
        "not UTF-8 text",
    ),
    "flags: --site-category without --sites": Case(
        {},
        ["plan", "--osm", "{d}/x.osm", "--site-category", "kindergarten", "--out", "{d}/out"],
        "command line",
        None,
        "applies only with --sites",
    ),
    "flags: --unit-id without --units": Case(
        {},
        ["plan", "--osm", "{d}/x.osm", "--unit-id", "code", "--out", "{d}/out"],
        "command line",
        None,
        "applies only with --units",
    ),
    "plan: plan file not found": Case(
        {}, ["plan", "{d}/nope.toml", "--out", "{d}/out"], "nope.toml", None, "plan file not found"
    ),
    "plan: a folder where a file is expected": Case(
        {"plan.toml": '[inputs]\nosm = "data"\n', "data/readme.txt": "the OSM file is elsewhere"},
        PLAN_ARGS,
        "plan.toml",
        ("key inputs.osm", "键 inputs.osm"),
        "is a folder, not a file",
    ),
    "plan: the plan file is a folder": Case(
        {"plans/readme.txt": "plans go here"},
        ["plan", "{d}/plans", "--out", "{d}/out"],
        "plans",
        None,
        "is a folder, not a plan file",
    ),
    # lifecircle/batch.py
    "batch: bad plan entries": Case(
        {"batch.toml": '[[plan]]\nname = "a"\n[[plan]]\nname = "a"\nplan = "x.toml"\ncolour = 1\n'},
        ["batch", "{d}/batch.toml"],
        "batch.toml",
        ("plan 1", "第 1 个计划"),
        "names no plan file",
    ),
    "batch: unknown table": Case(
        {"batch.toml": '[batch]\nout = "runs"\n[plans]\nx = 1\n'},
        ["batch", "{d}/batch.toml"],
        "batch.toml",
        None,
        "unknown table",
    ),
    "batch: file not found": Case(
        {}, ["batch", "{d}/nope.toml"], "nope.toml", None, "batch file not found"
    ),
    # lifecircle/partition.py
    "partition: no such column": Case(
        {"plan.toml": PLAN + '[analysis]\nparts = "district"\n'},
        PLAN_ARGS,
        "analysis.parts",
        None,
        "the units have no column",
    ),
    # lifecircle/maps/basemaps.py
    "tiles: Baidu": Case(
        {},
        _flags("--tiles", "https://maponline{s}.bdimg.com/tile/{z}/{x}/{y}"),
        "tiles",
        None,
        "Baidu",
    ),
    "tiles: not a tile URL": Case(
        {}, _flags("--tiles", "satellite"), "tiles", None, "is not a known base map"
    ),
    # lifecircle/geo/osm.py
    "osm: an empty <osm> element": Case(
        {"x.osm": '<?xml version="1.0"?>\n<osm version="0.6"></osm>\n'},
        _flags("--grid-m", "100"),
        "x.osm",
        None,
        "holds no OSM data",
    ),
    "osm: not XML": Case(
        {"x.osm": "<osm><node id='1' lat='39.9' lon='116.3'>"},
        _flags("--grid-m", "100"),
        "x.osm",
        None,
        "could not read the OSM data",
    ),
    # lifecircle/geo/facilities.py
    "facilities: empty category cells": Case(
        {
            "poi.csv": KINDERGARTEN
            + "a,,{},{}\nb,  ,{},{}\n".format(*lonlat(150, 70), *lonlat(150, 80))
        },
        _flags("--facilities", "{d}/poi.csv", "--grid-m", "100"),
        "poi.csv",
        ("rows 3, 4", "第 3, 4 行"),
        "empty category in column category",
    ),
    "facilities: unknown category for the whole file": Case(
        {"poi.csv": "name,lon,lat\na,{},{}\n".format(*lonlat(150, 60))},
        _flags("--facilities", "{d}/poi.csv", "--facilities-category", "太空站", "--grid-m", "100"),
        "poi.csv",
        None,
        "for every row of the file",
    ),
    "facilities: a label mapped to an unknown category": Case(
        {
            "poi.csv": KINDERGARTEN.replace("kindergarten", "民办园"),
            "map.toml": '"民办园" = "spaceport"\n',
        },
        _flags("--facilities", "{d}/poi.csv", "--category-map", "{d}/map.toml", "--grid-m", "100"),
        "map.toml",
        None,
        "maps to unknown category",
    ),
    "facilities: capacity not a number": Case(
        {"poi.csv": KINDERGARTEN.replace("lat\n", "lat,capacity\n").rstrip("\n") + ",many\n"},
        _flags("--facilities", "{d}/poi.csv", "--grid-m", "100"),
        "poi.csv",
        ("row 2", "第 2 行"),
        "capacity is not a number",
    ),
    # lifecircle/cli.py
    "cli: no output folder": Case(
        {}, ["plan", "--osm", "{d}/x.osm"], "command line", None, "no output folder"
    ),
}


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run(case: Case, folder: Path, lang: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the case into ``folder``; check exit 2, nothing written, inputs untouched."""
    folder.mkdir()
    write_osm(folder / "x.osm")
    for name, body in case.files.items():
        path = folder / name
        path.parent.mkdir(exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
    before = _snapshot(folder)
    args = [a.replace("{d}", str(folder)) for a in case.args] + ["--lang", lang]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert _snapshot(folder) == before, "an input changed or an output was written"
    made = {str(p.relative_to(folder)) for p in folder.rglob("*")} - {
        str(q) for name in before for q in (Path(name), *Path(name).parents) if str(q) != "."
    }
    assert made == set(), f"written: {made}"
    prefix = {"en": "error: ", "zh": "错误: "}[lang]
    assert prefix in err, err
    return err[err.index(prefix) + len(prefix) :]  # after the progress bar, if any


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_input_is_named_with_its_fix_in_english_and_chinese(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    en = _run(case, tmp_path / "en", "en", capsys)
    assert case.source in en and "(fix: " in en, en
    assert case.english in en, en
    zh = _run(case, tmp_path / "zh", "zh", capsys)
    source_zh = "命令行" if case.source == "command line" else case.source
    assert source_zh in zh and "（解决：" in zh and CJK.search(zh), zh
    assert case.english not in zh, zh
    if case.place is not None:
        assert case.place[0] in en, en
        assert case.place[1] in zh, zh


# ------------------------------------------------------------------ fix texts name real things
def _cli_options(group: click.Group) -> set[str]:
    """Every ``--option`` of every command of the CLI."""
    names: set[str] = set()
    for command in group.commands.values():
        if isinstance(command, click.Group):
            names |= _cli_options(command)
            continue
        for param in command.params:
            if isinstance(param, click.Option):
                names |= {o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")}
    return names


def _plan_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key of the plan file, dotted (``inputs.units.crs``), and every leaf name."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys |= {prefix + name, name}
        for inner in _models_in(info.annotation):
            keys |= _plan_keys(inner, f"{prefix}{name}.")
    return keys


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


KEY_PATTERNS = (
    r"plan keys? ([a-z_.]+)(?: and ([a-z_.]+))?",  # "plan keys lon_col and lat_col"
    r"计划键 ([a-z_.]+)(?: 和 ([a-z_.]+))?",
    r"\b((?:inputs|analysis|outputs|placement)\.[a-z_.]+)",  # a dotted plan key
    r"\[(analysis)\] ([a-z_]+)",  # "[analysis] parts"
)
"""How the texts name plan keys."""


def _named(lang: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The (text key, option) and (text key, plan key) pairs that ``lang``'s texts name."""
    options, keys = set(), set()
    for key, text in translations(lang).items():
        options |= {(key, o) for o in re.findall(r"--[a-z][a-z-]*", text)}
        for pattern in KEY_PATTERNS:
            for match in re.findall(pattern, text):
                parts = [m for m in (match if isinstance(match, tuple) else (match,)) if m]
                if pattern.startswith(r"\[("):
                    parts = [".".join(parts)]
                keys |= {(key, name.rstrip(".")) for name in parts}
    return options, keys


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fix_texts_name_only_options_and_plan_keys_that_exist(lang: str) -> None:
    options, keys = _cli_options(cli), _plan_keys(PlanConfig)
    named_options, named_keys = _named(lang)
    assert len(named_options) >= 15 and len(named_keys) >= 10  # the patterns find them
    assert {(k, o) for k, o in named_options if o not in options} == set()
    assert {(k, name) for k, name in named_keys if name not in keys} == set()


def test_the_option_check_finds_a_wrong_option() -> None:
    """The check above can fail: the options that fixes once named are not the CLI's."""
    options = _cli_options(cli)
    assert "--lon-col" not in options and "--lat-col" not in options
    assert "--population-col" in options and "--facilities-crs" in options
    assert "inputs.units.population_col" in _plan_keys(PlanConfig)
    assert "inputs.units.popul" not in _plan_keys(PlanConfig)


# ------------------------------------------------------------------ the plan file's language
def test_a_plan_files_lang_sets_the_language_of_its_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN + '[analysis]\nunit_share = "half"\n[outputs]\nlang = "zh"\n', "utf-8")
    code = main(["plan", str(plan), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("错误: ") and str(plan) in err
    assert "键 analysis.unit_share" in err and "（解决：" in err
    assert "Input should be" not in err and not (tmp_path / "out").exists()
    # --lang wins over the plan file's
    code = main(["plan", str(plan), "--out", str(tmp_path / "out"), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Input should be a valid number" in err
    # a problem found only when the files are read is in the plan's language too
    (tmp_path / "pop.csv").write_text("name,lon,lat\na,116.35,39.96\n", encoding="utf-8")
    text = PLAN + '[inputs.population]\npath = "pop.csv"\n[outputs]\nlang = "zh"\n'
    plan.write_text(text, encoding="utf-8")
    code = main(["plan", str(plan), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "找不到人口列" in err and "pop.csv" in err


# ------------------------------------------------------------------ warnings and notes
def test_a_chinese_run_prints_no_english_log_lines_and_its_notes_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_osm(tmp_path / "x.osm")
    # a pharmacy 340 m from the nearest walkable street: left out, with a note (and a
    # log warning in lifecircle.coverage.access)
    lon, lat = lonlat(400, 340)
    (tmp_path / "poi.csv").write_text(
        f"name,category,lon,lat\n远处药房,pharmacy,{lon},{lat}\n", encoding="utf-8"
    )
    runs: dict[str, str] = {}
    for lang in ("en", "zh"):
        args = ["plan", "--osm", str(tmp_path / "x.osm"), "--facilities", str(tmp_path / "poi.csv")]
        args += ["--facilities-mode", "add", "--grid-m", "100", "--format", "csv"]
        args += ["--offline", "--no-catchments", "--out", str(tmp_path / lang), "--lang", lang]
        assert main(args) == 0
        runs[lang] = capsys.readouterr().err
    assert "facilities are more than 250 m from any walkable street" in runs["en"]
    assert "处设施距任何可步行道路超过 250 米" in runs["zh"]
    assert "WARNING" not in runs["zh"] and "lifecircle." not in runs["zh"]
    assert "from any walkable street" not in runs["zh"]


# ------------------------------------------------------------------ what the CLI cannot reach
def test_an_unknown_category_of_a_built_area_is_named_in_both_languages() -> None:
    """analysis.check_categories: the plan file's own check finds these first, so this
    message is seen only through the Python API."""

    @dataclass
    class Area:
        catalog: Any

    with pytest.raises(InputError) as caught:
        check_categories(Area(load_catalog("gb50180")), ["spaceport"], "placement")  # type: ignore[arg-type]
    assert "placement: unknown category 'spaceport' in catalog gb50180" in str(caught.value)
    zh = caught.value.text("zh")
    assert "设施配置标准 gb50180 中没有类别“spaceport”" in zh and "解决" in zh


def test_points_far_outside_the_units_are_found_before_the_osm_file_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The OSM file here is not OSM at all: reading it would fail, so a message about
    the far points alone shows they were checked first."""
    (tmp_path / "x.osm").write_text("not OSM", encoding="utf-8")
    (tmp_path / "units.geojson").write_text(_units(({"id": "A"}, "square")), encoding="utf-8")
    near = "{},{}".format(*lonlat(150, 60))
    (tmp_path / "poi.csv").write_text(
        f"name,category,lon,lat\nnear,kindergarten,{near}\nfar,kindergarten,121.47,31.23\n",
        encoding="utf-8",
    )
    args = ["plan", "--osm", str(tmp_path / "x.osm"), "--units", str(tmp_path / "units.geojson")]
    args += ["--facilities", str(tmp_path / "poi.csv"), "--out", str(tmp_path / "out")]
    assert main([*args, "--lang", "zh"]) == 2
    err = capsys.readouterr().err
    assert "poi.csv，第 3 行：1 个点距研究范围超过" in err and "x.osm" not in err, err
    assert not (tmp_path / "out").exists()


def test_a_missing_file_is_reported_with_the_plan_key_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[inputs]\nosm = "nowhere.osm"\n[[inputs.facilities]]\npath = "poi.csv"\n'
        '[analysis]\nspeed_kmh = "fast"\ncolour = 1\n',
        encoding="utf-8",
    )
    assert main(["plan", str(plan), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "4 problems with the inputs" in err, err
    for text in (
        "key inputs.osm: file not found",
        "key inputs.facilities.0.path: file not found",
        "key analysis.speed_kmh: Input should be a valid number",
        "key analysis.colour: unknown key",
    ):
        assert text in err, err


def test_the_lifecircle_command_speaks_the_plan_files_language(tmp_path: Path) -> None:
    """The same through a real process (``python -m lifecircle.cli``), no --lang given."""
    plan = tmp_path / "plan.toml"
    plan.write_text('[inputs]\nosm = "nowhere.osm"\n[outputs]\nlang = "zh"\n', encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "lifecircle.cli", "plan", str(plan), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "键 inputs.osm：找不到文件" in done.stderr and "file not found" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.toml"]
