"""A plan of central Helsinki run into a folder, and the what-if study served from it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from lifecircle.app import demo_data
from lifecircle.cli import main
from lifecircle.geo.build import build_study_area
from lifecircle.serve.state import WhatIf
from lifecircle.serve.study import load_config

CAT = "pharmacy"
"""A category of the demo with point facilities."""


def folder_digest(path: Path) -> str:
    """One digest of every file's name and content under ``path``."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A plan of central Helsinki run into a folder, and the study served from it."""
    base = tmp_path_factory.mktemp("serve")
    plan = base / "plan.toml"
    plan.write_text(
        f'inputs.osm = "{demo_data()}"\noutputs.formats = ["csv"]\noutputs.offline = true\n',
        encoding="utf-8",
    )
    out = base / "results"
    assert main(["plan", str(plan), "--out", str(out), "--quiet"]) == 0
    config = load_config(out)
    w = WhatIf(build_study_area(config.study_inputs()), config.params())
    return out, config, w


def street_points(w: WhatIf, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` points in the middle of random streets of the study, in WGS84."""
    rng = np.random.default_rng(seed)
    edges = w.area.edges.geometry.to_numpy()
    picks = rng.choice(len(edges), n, replace=False)
    mids = [edges[i].interpolate(0.5, normalized=True) for i in picks]
    pts = gpd.GeoSeries(mids, crs=w.area.crs).to_crs("EPSG:4326")
    return [(p.x, p.y) for p in pts]
