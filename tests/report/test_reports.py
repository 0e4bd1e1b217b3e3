"""`lifecircle plan` from a plan file on the real Helsinki extract, its outputs opened with
independent readers (openpyxl, pyogrio, an HTML parser, Pillow, hashlib) and compared with
the pipeline's own numbers and with figures recomputed from the per-resident distances."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lifecircle.config
from lifecircle.cli import main
from lifecircle.i18n import tr
from lifecircle.params import OutputOptions
from lifecircle.report.summary import SUMMARY_COLUMNS, category_summary
from lifecircle.report.xlsx import sheet_names

KINDERGARTENS = "name,category,lon,lat\nPäiväkoti A,kindergarten,24.9405,60.1690\n"
KINDERGARTENS += "Päiväkoti B,kindergarten,24.9480,60.1720\n"


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory: pytest.TempPathFactory, helsinki_pbf: Path):
    """``lifecircle plan plan.toml --out out`` run once; the PlanResult it made is kept."""
    folder = tmp_path_factory.mktemp("plan")
    (folder / "kindergartens.csv").write_text(KINDERGARTENS, encoding="utf-8")
    (folder / "plan.toml").write_text(
        f'title = "Helsinki centre test study"\ncatalog = "gb50180"\n'
        f'[inputs]\nosm = "{helsinki_pbf}"\n'
        '[[inputs.facilities]]\npath = "kindergartens.csv"\nmode = "replace"\n'
        "[inputs.grid]\ncell_m = 250\n"
        '[[placement]]\ncategory = "kindergarten"\nsites = 2\n'
        '[outputs]\nlang = "en"\noffline = true\n',
        encoding="utf-8",
    )
    made = []
    original = lifecircle.config.plan

    def keep(*args, **kwargs):
        result = original(*args, **kwargs)
        made.append(result)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lifecircle.config, "plan", keep)
        assert main(["plan", str(folder / "plan.toml"), "--out", str(folder / "out"), "-q"]) == 0
    return made[0], folder / "out", folder


def test_every_output_is_written_and_nothing_else(plan_run) -> None:
    _, out, folder = plan_run
    names = {p.name for p in out.iterdir()}
    assert {"report.xlsx", "results.gpkg", "report.html", "map.html", "run.json"} <= names
    assert {"coverage_by_unit.csv", "checklist.csv", "sites.csv", "access.csv"} <= names
    assert sorted(p.name for p in folder.iterdir()) == ["kindergartens.csv", "out", "plan.toml"]
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert set(run["outputs"]) == names - {"run.json"}


def test_csv_opens_in_excel_on_chinese_windows(plan_run) -> None:
    _, out, _ = plan_run
    raw = (out / "coverage_by_unit.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark


def test_xlsx_sheets_and_cells_equal_the_pipeline(plan_run) -> None:
    from openpyxl import load_workbook

    result, out, _ = plan_run
    wb = load_workbook(out / "report.xlsx")
    names = sheet_names("en")
    # Helsinki's extract has buildings tagged only building=yes: their sheet comes last
    default = tr("sheet_default_buildings")
    assert wb.sheetnames == [names[k] for k in names if k != "inputs"] + [default, names["inputs"]]
    sheet = wb[default]
    demand = result.area.demand
    by_default = demand.loc[demand["use_rule"] == "default"]
    largest = (by_default["footprint_m2"] * by_default["floors"]).max()
    assert sheet.max_row - 1 == min(50, len(by_default))
    assert sheet.cell(row=2, column=7).value == pytest.approx(largest, abs=0.05)
    summary = wb[names["summary"]]
    assert summary.freeze_panes == "A2"
    header = [c.value for c in summary[1]]
    assert header[:2] == [tr("col_category_id"), tr("category")]
    rows = {r[0].value: r for r in summary.iter_rows(min_row=2) if r[0].value}
    overall = result.coverage.overall.set_index("category")
    for cat in ("kindergarten", "pharmacy", "park"):
        row = rows[cat]
        share = row[header.index(tr("share_covered"))]
        assert share.data_type == "n" and share.number_format == "0.0%"
        assert share.value == pytest.approx(overall.at[cat, "share"])
        count = row[header.index(tr("facilities"))].value
        assert count == int((result.area.facilities["category"] == cat).sum())
    assert rows["kindergarten"][header.index(tr("facilities"))].value == 2  # our file replaced OSM

    # the share covered, recomputed from the per-resident distances written in access.csv
    acc = pd.read_csv(out / "access.csv", encoding="utf-8-sig")
    covered = acc["pharmacy_m"] <= 300
    expected = acc.loc[covered, "residents"].sum() / acc["residents"].sum()
    share = rows["pharmacy"][header.index(tr("share_covered"))].value
    assert share == pytest.approx(expected, abs=1e-3)  # access.csv rounds to 0.1 resident

    cov = wb[names["coverage"]]
    cov_header = [c.value for c in cov[1]]
    assert cov.max_row - 1 == len(result.area.units)
    by_unit = result.coverage.by_unit.set_index(["unit_id", "category"])
    col = cov_header.index(result.area.catalog["pharmacy"].name("en"))
    for r in cov.iter_rows(min_row=2, max_row=12):
        expected = by_unit.at[(r[0].value, "pharmacy"), "share"]
        if np.isnan(expected):
            assert r[col].value is None
        else:
            assert r[col].value == pytest.approx(expected)

    sites = wb[names["sites"]]
    got = [r[5].value for r in sites.iter_rows(min_row=2)]
    rec = result.sites["kindergarten"]
    np.testing.assert_allclose(got, rec.sites["new_residents"].to_numpy())
    assert all(w > 0 for w in (d.width for d in sites.column_dimensions.values()))

    checklist = wb[names["checklist"]]
    assert checklist.max_row - 1 == len(result.coverage.checklist)


def test_category_summary_from_the_per_resident_distances(plan_run) -> None:
    """The one per-category table, recomputed by brute force from each resident point's
    distance, and the same rows in the xlsx summary sheet and the html coverage table."""
    from openpyxl import load_workbook

    result, out, _ = plan_run
    table = category_summary(result, lang="en")
    assert list(table.columns) == list(SUMMARY_COLUMNS)
    assert table["category"].tolist() == list(result.area.catalog.ids)
    res = result.area.demand["residents"].to_numpy(float)
    for k, cat in enumerate(result.access.categories):
        row = table.set_index("category").loc[cat]
        d = result.access.distance_m[:, k]
        assert row["threshold_m"] == result.access.thresholds_m[k]
        within = d <= result.access.thresholds_m[k]
        assert row["share"] == pytest.approx(res[within].sum() / res.sum())
        assert row["unreachable_residents"] == pytest.approx(res[~np.isfinite(d)].sum())
        # the median walk: the shortest distance that half of the residents reach
        reach = sorted({*d[res > 0]})
        median = next(x for x in reach if res[d <= x].sum() >= 0.5 * res.sum() - 1e-6)
        assert row["p50_m"] == median
        assert row["facilities"] == int((result.area.facilities["category"] == cat).sum())
    wb = load_workbook(out / "report.xlsx")
    sheet = wb[sheet_names("en")["summary"]]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2, max_row=len(table) + 1)]
    assert [r[0] for r in rows] == table["category"].tolist()
    np.testing.assert_allclose([r[6] for r in rows], table["share"], rtol=1e-12)
    np.testing.assert_allclose([r[7] for r in rows], table["share_units"], rtol=1e-12)


def test_gpkg_layers_counts_and_crs(plan_run) -> None:
    import pyogrio

    result, out, _ = plan_run
    path = out / "results.gpkg"
    layers = dict(pyogrio.list_layers(path).tolist())
    expected = {"units", "facilities", "residents", "catchments", "gaps", "sites", "metadata"}
    assert set(layers) == expected
    assert layers["metadata"] is None  # a table without geometry
    counts = {
        "units": len(result.area.units),
        "facilities": len(result.area.facilities),
        "residents": len(result.area.demand),
        "sites": 2,
        "gaps": len(result.gaps),
        "catchments": len(result.catchments),
    }
    for layer, n in counts.items():
        info = pyogrio.read_info(path, layer=layer)
        assert info["features"] == n, layer
        assert info["crs"] == "EPSG:4326", layer
    units = pyogrio.read_dataframe(path, layer="units")
    share = result.coverage.by_unit.pivot(index="unit_id", columns="category", values="share")
    np.testing.assert_allclose(
        units.set_index("unit_id")["share_pharmacy"].to_numpy(),
        share.loc[units["unit_id"], "pharmacy"].to_numpy(),
    )
    bounds = units.total_bounds
    assert 24.9 < bounds[0] < bounds[2] < 25.0 and 60.1 < bounds[1] < bounds[3] < 60.2
    meta = pyogrio.read_dataframe(path, layer="metadata").set_index("key")["value"]
    assert meta["metric_crs"] == result.area.crs.to_string()
    residents = pyogrio.read_dataframe(path, layer="residents")
    assert residents["residents"].sum() == pytest.approx(result.area.demand["residents"].sum())


class _Page(HTMLParser):
    """Collects the tables (rows of cell texts), images and iframes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: dict[str, str] = {}
        self.iframes: list[dict[str, str | None]] = []
        self.h1 = ""
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._in_h1 = False

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id") or a.get("class") or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images[a.get("id") or ""] = a.get("src") or ""
        elif tag == "iframe":
            self.iframes.append(a)
        elif tag == "h1":
            self._in_h1 = True

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "h1":
            self._in_h1 = False

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_h1:
            self.h1 += data


def _png(uri: str):
    from PIL import Image

    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_html_report_has_tables_charts_and_the_map(plan_run) -> None:
    result, out, _ = plan_run
    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    assert page.h1 == "Helsinki centre test study"
    coverage = page.tables["table-coverage"]
    assert len(coverage) == 1 + len(result.area.catalog)
    row = next(r for r in coverage if r[0] == result.area.catalog["pharmacy"].name("en"))
    share = result.coverage.overall.set_index("category").at["pharmacy", "share"]
    assert row[4] == f"{share:.1%}"
    sites = page.tables["table-sites"]
    assert len(sites) == 1 + 2
    assert [int(r[0]) for r in sites[1:]] == [1, 2]
    assert "table-units" in page.tables and "table-parameters" in page.tables
    for chart in ("chart-coverage", "chart-distances"):
        img = _png(page.images[chart])
        assert img.size[0] > 400 and img.size[1] > 200
        colours = np.asarray(img.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(colours, axis=0)) > 20  # drawn, not blank
    (frame,) = page.iframes
    assert "leaflet" in (frame["srcdoc"] or "").lower()
    assert "OpenStreetMap contributors" in (out / "report.html").read_text(encoding="utf-8")


def test_run_json_hashes_match_the_inputs(plan_run, helsinki_pbf: Path) -> None:
    _, out, folder = plan_run
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    by_role = {}
    for entry in run["inputs"]:
        by_role.setdefault(entry["role"], entry)
    for role, path in (("osm", helsinki_pbf), ("facilities", folder / "kindergartens.csv")):
        entry = by_role[role]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["bytes"] == path.stat().st_size
    assert run["plan"]["title"] == "Helsinki centre test study"
    assert {"load", "access", "placement", "catchments", "outputs"} <= set(run["timings_s"])
    assert run["versions"]["geopandas"] and run["catalog"]["id"] == "gb50180"


def _require_cjk_font():
    from lifecircle.report.charts import cjk_font

    font = cjk_font()
    if font.family is None:
        if os.environ.get("LIFECIRCLE_REQUIRE_CJK_FONT"):
            pytest.fail("no CJK font found: apt install fonts-noto-cjk (or pip install mplfonts)")
        pytest.skip("no CJK font on this machine")
    return font


def test_chinese_outputs_have_chinese_headers(plan_run, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from lifecircle.report.charts import cjk_font
    from lifecircle.report.outputs import write_outputs

    result, _, _ = plan_run
    options = OutputOptions(lang="zh", offline=True, formats=("xlsx", "html", "csv"))
    write_outputs(result, tmp_path, options=options)
    wb = load_workbook(tmp_path / "report.xlsx")
    assert wb.sheetnames[0] == "概况" and "建议新增选址" in wb.sheetnames
    assert wb["概况"]["B1"].value == "设施类别"
    assert wb["概况"]["B3"].value == "幼儿园"
    page = _Page()
    page.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert page.tables["table-coverage"][0][0] == "设施类别"
    assert page.tables["table-coverage"][2][0] == "幼儿园"
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    font = cjk_font()
    assert (font.family in text) if font.family else (tr("report_no_font", "zh") in text)


def _glyph(ch: str) -> np.ndarray:
    """One character drawn with the charts' settings, as a grey-level image."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(0.6, 0.6), dpi=60)
    fig.text(0.1, 0.1, ch, fontsize=24)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()
    plt.close(fig)
    return pixels


def test_chinese_renders_in_the_chart_images(plan_run) -> None:
    from matplotlib.ft2font import FT2Font

    from lifecircle.report.charts import _setup, coverage_chart, distance_chart

    font = _require_cjk_font()
    face = FT2Font(font.path)
    assert all(face.get_char_index(ord(ch)) != 0 for ch in "幼儿园覆盖率步行距离"), font
    result, _, _ = plan_run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coverage_chart(result, lang="zh")
        distance_chart(result, lang="zh")
        assert _setup("zh") == "zh"
        glyphs = [_glyph(ch) for ch in "幼儿园"]
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:3]
    # three different characters give three different images (missing glyphs are all one box)
    assert all(g.min() < 128 for g in glyphs)
    assert not np.array_equal(glyphs[0], glyphs[1]) and not np.array_equal(glyphs[1], glyphs[2])
