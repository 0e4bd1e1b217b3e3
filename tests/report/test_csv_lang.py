"""Under ``--lang zh`` the CSV headers, and the category names of checklist.csv, are
Chinese (the README: "With --lang zh every header ... is in Chinese"); English CSVs keep
their headers (issue 14)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from lifecircle.cli import main
from lifecircle.geo.catalog import load_catalog
from tests.geo.osm_fixture import write_osm

CJK = re.compile(r"[\u4e00-\u9fff]")


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("csvlang")
    write_osm(d / "x.osm")
    out = {}
    for catalog, suffix in (("gb50180", ""), ("beijing", "-bj")):  # beijing: own levels, supply
        for lang in ("en", "zh"):
            args = ["plan", "--osm", str(d / "x.osm"), "--grid-m", "100", "--format", "csv"]
            args += ["--sites", "1", "--site-category", "elderly_day_care", "--offline"]
            args += ["--catalog", catalog, "--no-catchments", "--lang", lang]
            assert main([*args, "--out", str(d / (lang + suffix))]) == 0
            out[lang + suffix] = d / (lang + suffix)
    return out


@pytest.mark.parametrize("suffix", ["", "-bj"])
def test_every_header_is_chinese_and_the_rows_are_the_same(
    runs: dict[str, Path], suffix: str
) -> None:
    names = sorted(p.name for p in runs["en" + suffix].glob("*.csv"))
    assert names == sorted(p.name for p in runs["zh" + suffix].glob("*.csv"))
    assert "checklist.csv" in names and "scenario_overall.csv" in names
    assert suffix == "" or "supply_need.csv" in names
    for name in names:
        en, zh = _read(runs["en" + suffix] / name), _read(runs["zh" + suffix] / name)
        assert all(CJK.search(h) for h in zh[0]), (name, zh[0])
        assert len(set(zh[0])) == len(zh[0]), (name, zh[0])
        assert len(zh) == len(en) and len(zh[0]) == len(en[0])
        if name not in ("checklist.csv", "walls.csv", "compounds.csv"):
            assert zh[1:] == en[1:], name


def test_the_walls_tables_name_categories_and_yes_no_in_chinese(runs: dict[str, Path]) -> None:
    """The fixture lies in Beijing (compounds gated): the walls' tables are written, with
    the categories' Chinese names, and the ranking's category columns named in Chinese."""
    catalog = load_catalog("gb50180")
    en, zh = _read(runs["en"] / "walls.csv"), _read(runs["zh"] / "walls.csv")
    assert en[0][:4] == ["category", "name", "gated_share", "open_share"]
    assert len(en) == len(catalog.ids) + 1
    for e, z in zip(en[1:], zh[1:], strict=True):
        assert z[0] == e[0] and e[1] == catalog[e[0]].name_en and z[1] == catalog[e[0]].name_zh
        assert z[2:] == e[2:]
    ranking = _read(runs["zh"] / "compounds_ranking.csv")[0]
    assert "幼儿园" in ranking and "开放后新增覆盖居民" in ranking
    en, zh = _read(runs["en"] / "compounds.csv"), _read(runs["zh"] / "compounds.csv")
    assert [{"True": "是", "False": "否"}[r[-1]] for r in en[1:]] == [r[-1] for r in zh[1:]]


def test_the_checklist_names_categories_in_chinese(runs: dict[str, Path]) -> None:
    catalog = load_catalog("gb50180")
    en, zh = _read(runs["en"] / "checklist.csv"), _read(runs["zh"] / "checklist.csv")
    assert en[0][:6] == ["unit_id", "category", "name", "level", "required", "share"]
    assert zh[0][:6] == ["单元编号", "类别", "名称", "生活圈层级", "是否必配", "覆盖率"]
    assert len(en) > 1
    for e, z in zip(en[1:], zh[1:], strict=True):
        assert z[1] == e[1] and e[2] == catalog[e[1]].name_en
        assert z[2] == catalog[e[1]].name_zh
        assert z[3] == catalog.level_name(e[3], "zh")
        assert z[4] == {"True": "是", "False": "否"}[e[4]]
        assert z[5:] == e[5:]
    access = _read(runs["zh"] / "access.csv")[0]
    assert "幼儿园（米）" in access and "经度" in access
