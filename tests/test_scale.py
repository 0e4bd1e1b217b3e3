"""Partitioned runs and batches on a real Dask LocalCluster of two worker processes.

A partitioned run of the tiled Helsinki network must give exactly the whole run's coverage
tables; its final placement pass is checked against the whole run's proven optimum. A batch
of three plans, one with a broken input, must finish the other two, report the third, skip
what is done when rerun and rerun what changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifecircle.analysis import run_plan
from lifecircle.cli import main
from lifecircle.params import PlacementSpec, PlanParams
from lifecircle.partition import make_parts, part_reach_m, run_partitioned, split_units
from tests.conftest import assert_aligned
from tests.tiling import tiled_study

pytestmark = pytest.mark.slow

TABLES = [
    "by_unit",
    "overall",
    "points",
    "completeness_by_unit",
    "completeness_overall",
    "checklist",
]


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as c,
        Client(c) as client,
    ):
        yield c, client


@pytest.fixture(scope="module")
def tiled():
    return tiled_study(2)


PARAMS = PlanParams(
    placements=(PlacementSpec("pharmacy", p=4),),
    candidate_spacing_m=None,
    catchments=False,
)


def test_parts_keep_every_resident_once_and_everything_within_reach(tiled) -> None:
    groups = split_units(tiled, 4)
    assert len(groups) == 4
    rows = np.concatenate(list(groups.values()))
    assert np.array_equal(np.sort(rows), np.arange(len(tiled.units)))
    reach = part_reach_m(tiled, speed_kmh=4.0, search_factor=3.0, max_snap_m=200.0)
    assert reach == pytest.approx(max(c.threshold(4.0) for c in tiled.catalog) * 3 + 800)
    parts = make_parts(tiled, groups, reach)
    index = np.concatenate([p.demand_index for p in parts])
    assert np.array_equal(np.sort(index), np.arange(len(tiled.demand)))
    for part in parts:
        core = part.area.units.union_all()
        # every street within reach of the core is kept, and none far beyond it
        d = tiled.edges.distance(core).to_numpy()
        assert int((d <= reach - 1).sum()) <= len(part.area.edges) <= int((d <= reach + 1).sum())
        assert (part.area.demand["unit_id"].isin(part.area.units["unit_id"])).all()


def test_partitioned_run_equals_the_whole_run(tiled, cluster) -> None:
    _, client = cluster
    whole = run_plan(tiled, PARAMS)
    parted = run_partitioned(tiled, PARAMS, by=4, client=client)
    assert len(parted.parts) == 4
    assert_aligned(whole.access, tiled.demand)
    assert_aligned(parted.access, tiled.demand)
    assert np.array_equal(parted.access.distance_m, whole.access.distance_m)
    assert np.array_equal(parted.access.facility, whole.access.facility)
    for name in TABLES:
        pd.testing.assert_frame_equal(
            getattr(parted.coverage, name), getattr(whole.coverage, name), check_exact=True
        )
    # the final pass picks among the parts' sites: never better than the whole run's proven
    # optimum, never worse than one part's own sites; the parts' bounds bound the optimum
    best = whole.sites["pharmacy"].result
    assert best.status == "optimal"
    final = parted.placement["pharmacy"]
    got = final["result"].objective
    assert got <= best.objective + 1e-6
    assert best.objective <= final["part_bound"] + 1e-6
    own = [r.objective for r in final["part_results"]]
    assert got >= max(own) - 1e-6  # a part's own sites alone cover at least its objective
    assert got >= 0.98 * best.objective
    sites = parted.sites["pharmacy"].sites
    assert parted.sites["pharmacy"].result is final["result"]
    # the residents newly covered, as the whole run would report them for these sites
    newly = parted.sites["pharmacy"].newly_covered
    res = tiled.demand["residents"].to_numpy(float)
    assert res[newly > 0].sum() == pytest.approx(got)
    assert len(sites) == 4
    assert sites["new_residents"].sum() == pytest.approx(got)
    assert set(sites["part"]) <= set(parted.parts["part"])
    assert sites["candidate_id"].str.startswith("c").all()
    assert len(sites[["x", "y"]].drop_duplicates()) == 4


def test_partitioned_by_a_column_without_dask(tiled) -> None:
    units = tiled.units.copy()
    x = units.geometry.centroid.x.to_numpy()
    units["district"] = np.where(x < np.median(x), "west", "east")
    area = type(tiled)(**{**tiled.__dict__, "units": units})
    parted = run_partitioned(area, PlanParams(placements=(), catchments=False), by="district")
    assert sorted(parted.parts["part"]) == ["east", "west"]
    whole = run_plan(area, PlanParams(placements=(), catchments=False))
    pd.testing.assert_frame_equal(parted.coverage.by_unit, whole.coverage.by_unit)
    with pytest.raises(Exception, match="no column 'street'"):
        run_partitioned(area, PlanParams(placements=()), by="street")


# ---------------------------------------------------------------------- batches
KINDERGARTENS = "name,category,lon,lat\nPäiväkoti A,childcare,24.9405,60.1690\n"
BROKEN = "name,category,lon,lat\nPäiväkoti X,childcare,24.9405,north\n"


def _plan(folder: Path, name: str, facilities: str, pbf: Path) -> None:
    (folder / f"{name}.csv").write_text(facilities, encoding="utf-8")
    (folder / f"{name}.toml").write_text(
        f'catalog = "fifteen-minute-city"\n[inputs]\nosm = "{pbf}"\n'
        f'[[inputs.facilities]]\npath = "{name}.csv"\nmode = "replace"\n'
        '[[placement]]\ncategory = "childcare"\nsites = 1\n',
        encoding="utf-8",
    )


def test_batch_finishes_the_good_plans_reports_the_broken_and_skips_on_rerun(
    tmp_path: Path, helsinki_pbf: Path, cluster, capsys
) -> None:
    c, _ = cluster
    _plan(tmp_path, "centre", KINDERGARTENS, helsinki_pbf)
    _plan(tmp_path, "broken", BROKEN, helsinki_pbf)
    (tmp_path / "batch.toml").write_text(
        '[batch]\nout = "runs"\n'
        "[defaults]\nanalysis = { catchments = false }\n"
        'outputs = { formats = ["csv"], offline = true }\n'
        '[[plan]]\nname = "centre"\nplan = "centre.toml"\n'
        '[[plan]]\nname = "centre-slow"\nplan = "centre.toml"\n'
        "set = { analysis = { speed_kmh = 3.0 } }\n"
        '[[plan]]\nname = "broken"\nplan = "broken.toml"\n',
        encoding="utf-8",
    )
    batch = str(tmp_path / "batch.toml")
    runs = tmp_path / "runs"
    code = main(["batch", batch, "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 3
    summary = pd.read_csv(runs / "batch-summary.csv", encoding="utf-8-sig")
    status = dict(zip(summary["plan"], summary["status"], strict=True))
    assert status == {"centre": "done", "centre-slow": "done", "broken": "failed"}
    error = summary.set_index("plan").loc["broken", "error"]
    assert "broken.csv" in error and "lat" in error
    assert "broken" in err and "failed" in err
    assert sorted(p.name for p in runs.iterdir()) == ["batch-summary.csv", "centre", "centre-slow"]
    for name in ("centre", "centre-slow"):
        run = json.loads((runs / name / "run.json").read_text(encoding="utf-8"))
        assert run["status"] == "done" and "coverage_by_unit.csv" in run["outputs"]
        assert "map.html" not in run["outputs"]
    # the scenario walks slower: the catalog's thresholds in minutes reach fewer residents
    row = summary.set_index("plan")
    assert row.loc["centre-slow", "share_grocery"] < row.loc["centre", "share_grocery"]
    assert row.loc["centre-slow", "share_childcare"] <= row.loc["centre", "share_childcare"]
    assert row.loc["centre", "residents"] == row.loc["centre-slow", "residents"] > 0

    # a rerun on the same cluster skips what is done, and keeps the figures
    first = (runs / "centre" / "run.json").read_text(encoding="utf-8")
    code = main(["batch", batch, "--scheduler", c.scheduler_address, "-q"])
    assert code == 3
    again = pd.read_csv(runs / "batch-summary.csv", encoding="utf-8-sig").set_index("plan")
    assert list(again["status"]) == ["skipped", "skipped", "failed"]
    assert again.loc["centre", "share_childcare"] == row.loc["centre", "share_childcare"]
    assert (runs / "centre" / "run.json").read_text(encoding="utf-8") == first

    # a changed input reruns the plans that read it; fixing the broken one makes it run
    (tmp_path / "centre.csv").write_text(
        KINDERGARTENS + "Päiväkoti B,childcare,24.9480,60.1720\n", encoding="utf-8"
    )
    (tmp_path / "broken.csv").write_text(KINDERGARTENS, encoding="utf-8")
    code = main(["batch", batch, "--scheduler", c.scheduler_address, "-q"])
    assert code == 0
    third = pd.read_csv(runs / "batch-summary.csv", encoding="utf-8-sig").set_index("plan")
    assert list(third["status"]) == ["done", "done", "done"]
    assert third.loc["centre", "facilities"] == row.loc["centre", "facilities"] + 1


def test_bad_batch_files_are_refused_with_every_problem(tmp_path: Path, capsys) -> None:
    (tmp_path / "batch.toml").write_text(
        '[[plan]]\nname = "a"\n[[plan]]\nname = "a"\nplan = "x.toml"\ncolour = 1\n',
        encoding="utf-8",
    )
    code = main(["batch", str(tmp_path / "batch.toml")])
    err = capsys.readouterr().err
    assert code == 2
    for text in ("no output folder", "names no plan file", "two plans are named 'a'", "colour"):
        assert text in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.toml"]
    code = main(["batch", str(tmp_path / "nope.toml")])
    assert code == 2 and "batch file not found" in capsys.readouterr().err


def test_plan_in_parts_on_the_cluster_writes_the_whole_runs_tables(
    tmp_path: Path, helsinki_pbf: Path, cluster, capsys
) -> None:
    c, _ = cluster
    args = ["plan", "--osm", str(helsinki_pbf), "--sites", "2", "--site-category", "pharmacy"]
    args += ["--offline", "-q", "--format", "csv", "--format", "xlsx"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    parted = [*args, "--out", str(tmp_path / "parts"), "--parts", "3"]
    assert main([*parted, "--scheduler", c.scheduler_address]) == 0
    for name in ("access.csv", "coverage_by_unit.csv", "checklist.csv", "gaps.csv", "sites.csv"):
        whole = (tmp_path / "whole" / name).read_bytes()
        assert (tmp_path / "parts" / name).read_bytes() == whole, name
    run = json.loads((tmp_path / "parts" / "run.json").read_text(encoding="utf-8"))
    assert len(run["parts"]) == 3 and run["plan"]["analysis"]["parts"] == 3
    assert "note_partitioned" in [n["key"] for n in run["notes"]]
    assert sum(p["units"] for p in run["parts"]) == run["counts"]["units"]
    # the parts' proven bound reaches run.json and bounds what the chosen sites cover
    newly = pd.read_csv(tmp_path / "parts" / "sites.csv", encoding="utf-8-sig")[
        "residents_newly_covered"
    ]
    assert run["placement_bounds"]["pharmacy"] >= newly.sum() - 1e-6 > 0
    whole_run = json.loads((tmp_path / "whole" / "run.json").read_text(encoding="utf-8"))
    assert whole_run["placement_bounds"] == {}
    # a scheduler without parts is a mistake, said before any work
    code = main([*args, "--out", str(tmp_path / "x"), "--scheduler", c.scheduler_address])
    assert code == 2 and "--parts" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
