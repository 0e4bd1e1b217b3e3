"""The study held in memory for the what-if map: its network, its residents' snaps and
every category's exact walking distances, updated change by change.

A change recomputes only the category it touches. Adding a facility can only shorten
distances, so on the open network it is one bounded search from the new facility (up to
the category's search limit) and an element-wise minimum: exact. Removing or moving one
recomputes the category: one multi-source search from its remaining facilities, as
:func:`lifecircle.coverage.access.nearest_facilities` does. With gated compounds every
change recomputes its category by the compounds' rule
(:meth:`lifecircle.coverage.gated.GatedNetwork.nearest`). Each category walks its walking
profile's copy of the network (:meth:`lifecircle.coverage.access.Access.network_for`), as
the plan does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.coverage.access import Access, plan_access, plan_gated_network
from lifecircle.coverage.network import Located, Snap, WalkNetwork
from lifecircle.coverage.tables import weighted_quantile
from lifecircle.geo.facilities import SAME_PLACE_M
from lifecircle.geo.study_area import StudyArea
from lifecircle.params import PlanParams

__all__ = ["MAX_CHANGES", "Change", "ChangeError", "Proposal", "WhatIf"]

MAX_CHANGES = 200
"""Changes one scenario may hold (a bound on the server's memory and work)."""


class ChangeError(ValueError):
    """A change the study cannot take: ``key`` names the message (``serve_<key>``)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass
class Proposal:
    """A proposed facility: its category, WGS84 position and network snap."""

    pid: str
    category: str
    lon: float
    lat: float
    snap: Snap
    group: np.ndarray | None = None


@dataclass
class Change:
    """One step of a scenario and what it did to its category's covered residents."""

    op: str
    category: str
    facility: str
    gained: float
    lost: float
    undo: dict[str, Any] = field(default_factory=dict)


class WhatIf:
    """A study's coverage under a scenario of added, moved and removed facilities.

    Parameters
    ----------
    area
        The study.
    params
        Its analysis parameters (speed, search factor, snap distance, unit share).
    """

    def __init__(self, area: StudyArea, params: PlanParams) -> None:
        self.area = area
        self.params = params
        self.network = WalkNetwork.from_edges(area.edges)
        self.access: Access = plan_access(self.network, area, params)
        self.gated = plan_gated_network(self.network, area)
        acc = self.access
        self._located: dict[int, Located] = {}
        self.base_distance = acc.distance_m.copy()
        self.distance = acc.distance_m.copy()
        self.facility = acc.facility.copy()
        n = len(area.facilities)
        self.active = np.ones(n, dtype=bool)
        self.cats = area.facilities["category"].to_numpy()
        self.ids = area.facilities["facility_id"].astype(str).to_numpy()
        self.from_file = area.facilities["source"].astype(str).to_numpy() != "osm"
        self.polygon = shapely.get_type_id(area.facilities.geometry.to_numpy()) >= 3
        self.point_group = None
        if self.gated is not None:
            self.point_group = self.gated.snap(acc.facility_points, params.max_snap_m)[1]
        self.proposals: dict[str, Proposal] = {}
        self.changes: list[Change] = []
        self._next = 1
        units = area.units["unit_id"].astype(str).to_numpy()
        self.unit_ids = units
        self.unit_code = pd.Index(units).get_indexer(acc.demand.unit_id.astype(str))
        res = acc.demand.residents
        self.unit_res = np.bincount(
            self.unit_code[self.unit_code >= 0],
            weights=res[self.unit_code >= 0],
            minlength=len(units),
        )
        self.required = [
            acc.column(c)
            for lv in area.catalog.levels()
            for c in area.catalog.required_at(lv)
            if c in acc.categories
        ]

    # -- what the page shows --------------------------------------------------------------

    def column(self, category: str) -> int:
        """Column of ``category``; a :class:`ChangeError` for one the catalog lacks."""
        if category not in self.access.categories:
            raise ChangeError("unknown_category", category=category)
        return self.access.column(category)

    def covered(self, k: int, distance: np.ndarray | None = None) -> np.ndarray:
        """Which residents' points reach category ``k`` within its threshold."""
        d = self.distance if distance is None else distance
        return np.asarray(d[:, k] <= self.access.thresholds_m[k])

    def unit_shares(self, k: int) -> np.ndarray:
        """Share of each unit's residents covered for category ``k`` (NaN: no residents);
        residents of the category's age group where the study knows it."""
        res = self.access.weights(self.access.categories[k])
        ok = self.unit_code >= 0
        n = len(self.unit_ids)
        cov = np.bincount(self.unit_code[ok], weights=(res * self.covered(k))[ok], minlength=n)
        total = np.bincount(self.unit_code[ok], weights=res[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, cov / total, np.nan)

    def headline(self, k: int) -> dict[str, float]:
        """Residents and units covered for category ``k``, and complete life circles."""
        res = self.access.weights(self.access.categories[k])  # the category's age group
        everyone = self.access.demand.residents  # complete life circles: every resident
        total = float(res.sum())
        covered = float(res[self.covered(k)].sum())
        shares = self.unit_shares(k)
        with_res = np.isfinite(shares)
        units_cov = int((shares[with_res] >= self.params.unit_share).sum())
        cov_all = self.distance <= self.access.thresholds_m[None, :]
        complete = (
            cov_all[:, self.required].all(axis=1) if self.required else np.ones(len(res), bool)
        )
        return {
            "residents": total,
            "covered_residents": covered,
            "share": covered / total if total > 0 else float("nan"),
            "units": int(with_res.sum()),
            "units_covered": units_cov,
            "share_units": units_cov / int(with_res.sum()) if with_res.any() else float("nan"),
            "residents_complete": float(everyone[complete].sum()),
            "share_complete": float(everyone[complete].sum()) / everyone.sum()
            if everyone.sum() > 0
            else float("nan"),
        }

    def facility_id(self, row: int) -> str:
        """The id of facility ``row`` (existing rows first, then proposals by number)."""
        if row < len(self.ids):
            return str(self.ids[row])
        return f"P{row - len(self.ids) + 1}"

    # -- changes --------------------------------------------------------------------------

    def _project(self, lon: float, lat: float) -> np.ndarray:
        pts = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs="EPSG:4326").to_crs(self.area.crs)
        return np.asarray(pts.to_numpy())

    def _snap(self, lon: float, lat: float) -> tuple[Snap, np.ndarray | None]:
        if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise ChangeError("bad_position", lon=lon, lat=lat)
        pts = self._project(lon, lat)
        if self.gated is None:
            snap, group = self.network.snap(pts, max_snap_m=self.params.max_snap_m), None
        else:
            snap, group = self.gated.snap(pts, self.params.max_snap_m)
        if not snap.ok.all():
            raise ChangeError("off_network", distance=f"{self.params.max_snap_m:.0f}")
        return snap, group

    def _check_near(self, category: str, lon: float, lat: float, skip: str | None) -> None:
        """A proposal must be over :data:`SAME_PLACE_M` from the category's existing
        facilities (a plan file's "add" would drop those) and 1 m from other proposals."""
        pt = self._project(lon, lat)[0]
        mine = self.cats == category
        geoms = self.area.facilities.geometry.to_numpy()[mine]
        near = shapely.dwithin(geoms, pt, SAME_PLACE_M)
        if near.any():
            raise ChangeError("too_close", facility=str(self.ids[mine][near][0]), m=SAME_PLACE_M)
        for p in self.proposals.values():
            if p.pid != skip and p.category == category and (p.lon, p.lat) == (lon, lat):
                raise ChangeError("too_close", facility=p.pid, m=SAME_PLACE_M)

    def _bounded(self) -> None:
        if len(self.changes) >= MAX_CHANGES:
            raise ChangeError("too_many_changes", n=MAX_CHANGES)

    def add(self, category: str, lon: float, lat: float) -> Change:
        """Propose a facility of ``category`` at ``(lon, lat)`` (WGS84).

        Parameters
        ----------
        category
            Its category id.
        lon, lat
            Where, in degrees.

        Returns
        -------
        Change
            The change, with the residents it newly covers.
        """
        self._bounded()
        k = self.column(category)
        lon, lat = float(lon), float(lat)
        self._check_near(category, lon, lat, None)
        snap, group = self._snap(lon, lat)
        pid = f"P{self._next}"
        self._next += 1
        self.proposals[pid] = Proposal(pid, category, lon, lat, snap, group)
        before = self.covered(k)
        self._add_search(k, self.proposals[pid])
        return self._record("add", category, pid, before, {"op": "remove", "id": pid})

    def move(self, fid: str, lon: float, lat: float) -> Change:
        """Move a proposed or existing facility to ``(lon, lat)`` (WGS84).

        Parameters
        ----------
        fid
            The facility's id (``P1``... for proposals).
        lon, lat
            Where to, in degrees.

        Returns
        -------
        Change
            The change, with the residents it newly covers and those it loses.
        """
        self._bounded()
        lon, lat = float(lon), float(lat)
        if fid in self.proposals:
            p = self.proposals[fid]
            k = self.column(p.category)
            self._check_near(p.category, lon, lat, fid)
            snap, group = self._snap(lon, lat)
            old = (p.lon, p.lat)
            before = self.covered(k)
            p.lon, p.lat, p.snap, p.group = lon, lat, snap, group
            self._recompute(k)
            undo = {"op": "move", "id": fid, "lon": old[0], "lat": old[1]}
            return self._record("move", p.category, fid, before, undo)
        row = self._existing(fid)
        cat = str(self.cats[row])
        self._check_near(cat, lon, lat, None)
        self._snap(lon, lat)  # fails before anything changes
        removed = self.remove(fid)
        added = self.add(cat, lon, lat)
        self.changes[-2:] = []
        merged = Change(
            "move",
            cat,
            f"{fid}→{added.facility}",
            0.0,
            0.0,
            {"op": "unmove", "id": fid, "pid": added.facility},
        )
        merged.gained = added.gained + removed.gained
        merged.lost = added.lost + removed.lost
        self.changes.append(merged)
        return merged

    def _existing(self, fid: str) -> int:
        rows = np.flatnonzero((self.ids == fid) & self.active)
        if len(rows) == 0:
            raise ChangeError("unknown_facility", facility=fid)
        row = int(rows[0])
        if self.from_file[row]:
            raise ChangeError(
                "from_file", facility=fid, file=str(self.area.facilities["source"].iloc[row])
            )
        if self.polygon[self.cats == self.cats[row]].any():
            raise ChangeError("polygon_category", facility=fid)
        return row

    def remove(self, fid: str) -> Change:
        """Remove a proposed or existing facility.

        Parameters
        ----------
        fid
            The facility's id.

        Returns
        -------
        Change
            The change, with the residents it loses.
        """
        self._bounded()
        if fid in self.proposals:
            p = self.proposals.pop(fid)
            k = self.column(p.category)
            before = self.covered(k)
            self._recompute(k)
            undo = {"op": "restore", "proposal": p}
            return self._record("remove", p.category, fid, before, undo)
        row = self._existing(fid)
        k = self.column(str(self.cats[row]))
        before = self.covered(k)
        self.active[row] = False
        self._recompute(k)
        return self._record(
            "remove", str(self.cats[row]), fid, before, {"op": "unremove", "row": row}
        )

    def undo(self) -> Change | None:
        """Take back the last change (None when there is none)."""
        if not self.changes:
            return None
        last = self.changes.pop()
        u = last.undo
        k = self.column(last.category)
        if u["op"] == "remove":
            self.proposals.pop(u["id"])
        elif u["op"] == "move":
            p = self.proposals[u["id"]]
            p.lon, p.lat = u["lon"], u["lat"]
            p.snap, p.group = self._snap(p.lon, p.lat)
        elif u["op"] == "restore":
            self.proposals[u["proposal"].pid] = u["proposal"]
        elif u["op"] == "unremove":
            self.active[u["row"]] = True
        else:  # unmove: the moved facility back, its new place gone
            self.proposals.pop(u["pid"])
            self.active[(self.ids == u["id"])] = True
        self._recompute(k)
        return last

    def _record(
        self, op: str, category: str, fid: str, before: np.ndarray, undo: dict[str, Any]
    ) -> Change:
        k = self.column(category)
        after = self.covered(k)
        res = self.access.demand.residents
        change = Change(
            op,
            category,
            fid,
            float(res[after & ~before].sum()),
            float(res[before & ~after].sum()),
            undo,
        )
        self.changes.append(change)
        return change

    # -- the searches ---------------------------------------------------------------------

    def _walked(self, k: int) -> tuple[WalkNetwork, Located | None]:
        """The network category ``k``'s residents walk (its walking profile's copy) and, in
        open mode, the residents located on it (once per network)."""
        net = self.access.network_for(self.network, self.access.categories[k])
        if self.gated is not None:
            return net, None
        if id(net) not in self._located:
            self._located[id(net)] = net.locate(self.access.demand_snap)
        return net, self._located[id(net)]

    def _proposal_row(self, pid: str) -> int:
        return len(self.ids) + int(pid[1:]) - 1

    def _add_search(self, k: int, p: Proposal) -> None:
        """Distances after adding ``p``: the minimum with a bounded search from it."""
        if self.gated is not None:
            self._recompute(k)
            return
        net, targets = self._walked(k)
        assert targets is not None
        d, _ = net.distances(p.snap, targets, limit_m=float(self.access.limits_m[k]))
        better = d < self.distance[:, k]
        self.distance[better, k] = d[better]
        self.facility[better, k] = self._proposal_row(p.pid)

    def _recompute(self, k: int) -> None:
        """Category ``k``'s distances from its active and proposed facilities."""
        cat = self.access.categories[k]
        acc = self.access
        assert acc.facility_snap is not None
        sel = np.flatnonzero((self.active & (self.cats == cat))[acc.facility_of])
        props = [p for p in self.proposals.values() if p.category == cat]
        snaps = [acc.facility_snap.take(sel)] + [p.snap for p in props]
        rows = np.concatenate([acc.facility_of[sel], [self._proposal_row(p.pid) for p in props]])
        rows = rows.astype(np.int64)
        src = Snap.concat(snaps)
        limit = float(acc.limits_m[k])
        if len(rows) == 0:
            self.distance[:, k], self.facility[:, k] = np.inf, -1
            return
        net, targets = self._walked(k)
        if self.gated is None:
            assert targets is not None
            d, w = net.distances(src, targets, limit_m=limit)
        else:
            assert self.point_group is not None and acc.demand_compound is not None
            groups = np.concatenate([self.point_group[sel]] + [np.asarray(p.group) for p in props])
            visitors = not self.area.catalog[cat].members_only
            d, w = self.gated.on(net).nearest(
                (src, groups), (acc.demand_snap, acc.demand_compound), visitors, limit
            )
        self.distance[:, k] = d
        self.facility[:, k] = np.where(w >= 0, rows[np.maximum(w, 0)], -1)

    # -- a unit's checklist ---------------------------------------------------------------

    def find_units(self, query: str, limit: int = 10) -> list[dict[str, str]]:
        """Units whose id or name contains ``query`` (case-insensitive), at most ``limit``."""
        q = query.strip().casefold()
        if not q:
            return []
        units = self.area.units
        names = units["name"].astype(str).to_numpy() if "name" in units else self.unit_ids
        hits = [
            i
            for i, (u, nm) in enumerate(zip(self.unit_ids, names, strict=True))
            if q in u.casefold() or q in nm.casefold()
        ]
        return [{"unit_id": str(self.unit_ids[i]), "name": str(names[i])} for i in hits[:limit]]

    def checklist(self, unit_id: str) -> list[dict[str, Any]]:
        """The unit's services missing before or after the scenario: for each, the share
        covered, the nearest facility (nearest to most of its residents) and its walk."""
        code = np.flatnonzero(self.unit_ids == unit_id)
        if len(code) == 0:
            raise ChangeError("unknown_unit", unit=unit_id)
        idx = np.flatnonzero(self.unit_code == code[0])
        res = self.access.demand.residents[idx]
        rows = []
        for k, cat in enumerate(self.access.categories):
            thr = self.access.thresholds_m[k]
            entry: dict[str, Any] = {
                "category": cat,
                "name_en": self.area.catalog[cat].name_en,
                "name_zh": self.area.catalog[cat].name_zh,
            }
            missing = False
            for when, dist, fac in (
                ("before", self.base_distance, self.access.facility),
                ("after", self.distance, self.facility),
            ):
                d = dist[idx, k]
                share = float(res[d <= thr].sum() / res.sum()) if res.sum() > 0 else float("nan")
                missing |= bool(share < self.params.unit_share)
                entry[f"share_{when}"] = share
                entry[f"walk_{when}"], entry[f"nearest_{when}"] = self._nearest(d, fac[idx, k], res)
            if missing:
                rows.append(entry)
        return rows

    def _nearest(
        self, d: np.ndarray, fac: np.ndarray, res: np.ndarray
    ) -> tuple[float | None, str | None]:
        ok = (fac >= 0) & (res > 0)
        if not ok.any():
            return None, None
        weight = np.bincount(fac[ok], weights=res[ok])
        best = int(np.argmax(weight))
        mine = ok & (fac == best)
        return round(weighted_quantile(d[mine], res[mine], 0.5), 1), self.facility_id(best)
