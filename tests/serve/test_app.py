"""The what-if server over a real study: its API through Starlette's TestClient, bad
requests refused with a message, the token checked, the export rerun by ``lifecircle plan``
to the same figures, and the results folder left as it was."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from starlette.testclient import TestClient

from lifecircle.cli import main
from lifecircle.config import load_plan
from lifecircle.maps.compact import decode_ints
from lifecircle.serve.app import TOKEN_HEADER, make_app
from tests.serve.conftest import CAT, folder_digest, street_points


def test_changes_export_and_rerun_to_the_same_figures(served, tmp_path) -> None:
    out, config, w = served
    before = folder_digest(out)
    client = TestClient(make_app(w, config))
    start = client.get("/api/coverage", params={"category": CAT}).json()["headline"]
    added = []
    for lon, lat in street_points(w, 6, seed=11):
        r = client.post("/api/change", json={"op": "add", "category": CAT, "lon": lon, "lat": lat})
        assert r.status_code in (200, 409), r.text
        if r.status_code == 200:
            added.append(r.json()["change"])
    assert len(added) >= 2
    gone = str(w.ids[(w.cats == CAT) & w.active][0])
    r = client.post("/api/change", json={"op": "remove", "id": gone})
    assert r.status_code == 200
    lon, lat = street_points(w, 1, seed=12)[0]
    r = client.post(
        "/api/change", json={"op": "move", "id": added[0]["facility"], "lon": lon, "lat": lat}
    )
    assert r.status_code == 200
    now = r.json()
    assert len(now["changes"]) == len(added) + 2
    gained = sum(c["gained"] - c["lost"] for c in now["changes"])
    assert now["headline"]["covered_residents"] == pytest.approx(
        start["covered_residents"] + gained
    )
    files = client.get("/api/export").json()
    scen = tmp_path / "scenario"
    scen.mkdir()
    for name, text in files.items():
        (scen / name).write_text(text, encoding="utf-8")
    rerun = tmp_path / "rerun"
    assert main(["plan", str(scen / "plan.toml"), "--out", str(rerun), "--quiet"]) == 0
    table = pd.read_csv(rerun / "coverage_by_unit.csv")
    mine = table.loc[table["category"] == CAT]
    head = now["headline"]
    # the CSV holds each unit's figure rounded: equal to a hundredth of a resident
    assert mine["covered_residents"].sum() == pytest.approx(head["covered_residents"], abs=0.01)
    assert int(mine["covered"].sum()) == head["units_covered"]
    assert load_plan(scen / "plan.toml").placement == []
    assert folder_digest(out) == before  # nothing under the results folder changed


def test_bad_requests_get_a_message_not_a_traceback(served) -> None:
    _, config, w = served
    client = TestClient(make_app(w, config))
    cases = [
        ({"op": "add", "category": "nope", "lon": 24.9, "lat": 60.1}, 400, "unknown_category"),
        ({"op": "add", "category": CAT, "lon": "x", "lat": 60.1}, 400, "bad_request"),
        ({"op": "fly"}, 400, "bad_request"),
        ({"op": "remove", "id": "nope"}, 404, "unknown_facility"),
        ({"op": "add", "category": CAT, "lon": 0.0, "lat": 0.0}, 400, "off_network"),
    ]
    for body, status, key in cases:
        r = client.post("/api/change", json=body)
        assert (r.status_code, r.json()["error"]) == (status, key), body
        assert r.json()["message"]["zh"] and "Traceback" not in r.text
    r = client.post(
        "/api/change", content=b"[" * 5000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    r = client.post("/api/change", content=b"{not json")
    assert r.status_code == 400
    assert client.get("/api/unit", params={"id": "nope"}).status_code == 404


def test_the_token_is_asked_for_on_every_request(served) -> None:
    _, config, w = served
    client = TestClient(make_app(w, config, token="s3cret"))
    for path in ("/", "/api/study", "/api/export"):
        assert client.get(path).status_code == 403
        assert client.get(path, params={"token": "wrong"}).status_code == 403
    assert client.get("/api/study", headers={TOKEN_HEADER: "s3cret"}).status_code == 200
    assert client.get("/", params={"token": "s3cret"}).status_code == 200


def test_serve_refuses_a_folder_that_is_not_a_result(tmp_path, capsys) -> None:
    assert main(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err and str(tmp_path) in err


def test_a_category_with_every_facility_removed_reruns_with_none(served, tmp_path) -> None:
    """The export names a category that lost its every facility, so the rerun drops OSM's
    too (the file replacing them has no row of it)."""
    _out, config, w = served
    client = TestClient(make_app(w, config))
    polygon = {str(c) for c in w.cats[w.polygon]}
    counts = pd.Series(w.cats[w.active & ~w.from_file]).value_counts()
    cat = next(c for c in counts.index[::-1] if c not in polygon and c != CAT)
    for fid in w.ids[(w.cats == cat) & w.active]:
        assert client.post("/api/change", json={"op": "remove", "id": str(fid)}).status_code == 200
    head = client.get("/api/coverage", params={"category": cat}).json()["headline"]
    assert head["covered_residents"] == 0 and head["units_covered"] == 0
    files = client.get("/api/export").json()
    scen = tmp_path / "scenario"
    scen.mkdir()
    for name, text in files.items():
        (scen / name).write_text(text, encoding="utf-8")
    plan = load_plan(scen / "plan.toml")
    assert [f.replaces for f in plan.inputs.facilities if f.mode == "replace"][-1] == sorted(
        {str(c) for c in w.cats[~w.active]}
    )
    rerun = tmp_path / "rerun"
    assert main(["plan", str(scen / "plan.toml"), "--out", str(rerun), "--quiet"]) == 0
    table = pd.read_csv(rerun / "coverage_by_unit.csv")
    mine = table.loc[table["category"] == cat]
    assert len(mine) > 0 and mine["covered_residents"].sum() == 0
    summary = pd.read_csv(rerun / "coverage_summary.csv").set_index("category")
    assert summary.loc[cat, "share"] == 0 and summary.loc[cat, "covered_residents"] == 0
    while w.changes:  # the module's study as it was for the other tests
        w.undo()


def test_the_page_speaks_the_plans_language_and_draws_the_streets(served) -> None:
    _, config, w = served
    zh = TestClient(make_app(w, config, lang="zh")).get("/").text
    en = TestClient(make_app(w, config)).get("/").text  # the plan's language: English
    assert '"residents": "居民覆盖率"' in zh and "Residents covered" not in zh
    assert '"residents": "Residents covered"' in en and "居民覆盖率" not in en
    assert "<script src=" not in zh and "function lcStreets" in zh  # all inlined
    study = TestClient(make_app(w, config)).get("/api/study").json()
    # every street inside the study, major or not, once, with its vertices at 1e-5
    # degree (a street shorter than that is one point and left out)
    edges = w.area.edges.loc[w.area.edges.intersects(w.area.extent)].to_crs(4326)
    want = []
    for g in edges.geometry:
        q = [tuple(round(c * 1e5) for c in xy) for xy in g.coords]
        n = 1 + sum(a != b for a, b in itertools.pairwise(q))
        if n >= 2:
            want.append(n)
    counts = [n for s in study["streets"] for n in decode_ints(s["n"])]
    assert sorted(counts) == sorted(want) and len(want) > 0.99 * len(edges)
    named = {f["id"]: f["name"] for f in study["facilities"]}
    fac = w.area.facilities
    row = fac.loc[fac["name"].notna()].iloc[0]
    assert named[str(row["facility_id"])] == row["name"]
