"""What the walls of gated compounds cost: coverage as walked against coverage if compounds
were open, and the compounds ranked by the residents who would newly be covered if that one
compound alone let people through (issue 15).

Both rerun the study's access (:func:`~lifecircle.coverage.access.nearest_facilities`) on
the same network: once with every compound open, and once per compound with only that one
open (its ways public, its residents walking from them), the others gated.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.coverage.access import Access, nearest_facilities, plan_gated_network
from lifecircle.coverage.entrances import entrance_ranking
from lifecircle.coverage.gated import GatedNetwork
from lifecircle.coverage.network import WalkNetwork
from lifecircle.coverage.profiles import category_profiles
from lifecircle.geo.study_area import StudyArea
from lifecircle.i18n import Note
from lifecircle.params import PlanParams

__all__ = [
    "RANK_MAX_COMPOUNDS",
    "Walls",
    "compound_ranking",
    "compounds_table",
    "entrance_table",
    "open_compounds_table",
    "walls_notes",
    "walls_tables",
]

RANK_MAX_COMPOUNDS = 30
"""The ranking opens at most this many compounds, the ones with the most residents inside
(each costs one access run)."""


def _access(
    network: WalkNetwork, area: StudyArea, params: PlanParams, gated: GatedNetwork | None
) -> Access:
    return nearest_facilities(
        network,
        area.demand,
        area.facilities,
        area.catalog,
        speed_kmh=params.speed_kmh,
        search_factor=params.search_factor,
        max_snap_m=params.max_snap_m,
        edge_spacing_m=params.edge_spacing_m,
        gated=gated,
        profiles=category_profiles(area, params),
    )


def _covered_residents(access: Access) -> np.ndarray:
    """Residents covered per category (of its age group where the study knows it)."""
    return np.asarray((_weights(access) * access.covered).sum(axis=0))


def _weights(access: Access) -> np.ndarray:
    """``(n_demand, n_categories)``: each category's demand weights (:meth:`Access.weights`)."""
    return np.column_stack([access.weights(c) for c in access.categories])


def open_compounds_table(
    network: WalkNetwork, area: StudyArea, params: PlanParams, access: Access
) -> pd.DataFrame:
    """Coverage per category as walked (gated) and if every compound were open.

    Parameters
    ----------
    network
        The walk network of the study.
    area
        The study, with its gated compounds.
    params
        The plan's parameters.
    access
        The study's access as walked (gated).

    Returns
    -------
    pandas.DataFrame
        ``category``, ``name`` (English), ``gated_share``, ``open_share`` (shares of
        residents covered), ``gated_residents``, ``open_residents`` and
        ``open_minus_gated`` (residents).
    """
    opened = _access(network, area, params, None)
    total = _weights(access).sum(axis=0)
    total = np.where(total > 0, total, 1.0)
    gated, open_ = _covered_residents(access), _covered_residents(opened)
    return pd.DataFrame(
        {
            "category": access.categories,
            "name": [area.catalog[c].name_en for c in access.categories],
            "gated_share": gated / total,
            "open_share": open_ / total,
            "gated_residents": gated,
            "open_residents": open_,
            "open_minus_gated": open_ - gated,
        }
    )


class _Near:
    """Which residents and facilities opening one compound can matter to, exactly.

    A walk is never shorter than the straight line between any two of its points, scaled by
    the network's least ratio of walking length to drawn length (1 unless edges cost less
    than they measure). A walk that opening a compound shortens starts, ends or passes in
    that compound (its polygon, its ways); so only residents within the largest threshold
    of it can be newly covered (``radius``), by facilities within twice that.
    """

    def __init__(self, network: WalkNetwork, area: StudyArea, access: Access) -> None:
        drawn = shapely.length(network.geometry)
        ratio = np.divide(network.length, drawn, out=np.ones(len(drawn)), where=drawn > 0)
        scale = min(1.0, float(ratio.min(initial=1.0)))
        self.radius = float(access.thresholds_m.max(initial=0.0)) / max(scale, 1e-9)
        self.area = area
        self.demand = area.demand.geometry.to_numpy()
        self.facilities = area.facilities.geometry.to_numpy()
        self.labels = area.edges["compound"].to_numpy(dtype=np.int64)
        self.ways = area.edges.geometry.to_numpy()

    def rows(self, compound: int) -> tuple[np.ndarray, np.ndarray]:
        """The demand rows within reach of ``compound`` and the facility rows within
        twice that (positions)."""
        assert self.area.compounds is not None
        ways = list(self.ways[self.labels == compound])
        polygon = self.area.compounds.areas.geometry.to_numpy()[compound]
        region = shapely.union_all([polygon, *ways])
        d = np.flatnonzero(shapely.dwithin(self.demand, region, self.radius))
        f = np.flatnonzero(shapely.dwithin(self.facilities, region, 2.0 * self.radius))
        return d, f


def compound_ranking(
    network: WalkNetwork, area: StudyArea, params: PlanParams, access: Access
) -> pd.DataFrame:
    """The compounds ranked by the residents newly covered if that one let people through.

    Parameters
    ----------
    network
        The walk network of the study.
    area
        The study, with its gated compounds.
    params
        The plan's parameters.
    access
        The study's access as walked (gated).

    Returns
    -------
    pandas.DataFrame
        ``compound_id``, ``name``, ``residents_inside``, one column per category (residents
        newly covered) and ``newly_covered`` (their sum over categories), best first; at
        most :data:`RANK_MAX_COMPOUNDS` compounds.
    """
    comp = area.compounds
    if comp is None or access.demand_compound is None:
        return pd.DataFrame(columns=["compound_id", "name", "residents_inside", "newly_covered"])
    res = access.demand.residents
    inside = np.bincount(
        access.demand_compound[access.demand_compound >= 0],
        weights=res[access.demand_compound >= 0],
        minlength=len(comp),
    )
    order = np.argsort(-inside, kind="stable")[:RANK_MAX_COMPOUNDS]
    rows = []
    near = _Near(network, area, access)
    quick = dataclasses.replace(params, search_factor=1.0)  # coverage needs the threshold only
    for c in order:
        d_rows, f_rows = near.rows(int(c))
        gain = np.zeros(len(access.categories))
        if len(d_rows):
            local = dataclasses.replace(
                area, demand=area.demand.iloc[d_rows], facilities=area.facilities.iloc[f_rows]
            )
            alone = _access(network, local, quick, plan_gated_network(network, area, opened=int(c)))
            was = access.covered[d_rows]
            gain = ((alone.covered & ~was) * res[d_rows, None]).sum(axis=0)
        row = {
            "compound_id": comp.areas["compound_id"].iloc[c],
            "name": comp.areas["name"].iloc[c],
            "residents_inside": float(inside[c]),
        }
        row.update({cat: float(g) for cat, g in zip(access.categories, gain, strict=True)})
        row["newly_covered"] = float(gain.sum())
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):
        frame = frame.sort_values("newly_covered", ascending=False, kind="stable")
    frame = frame.reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def compounds_table(area: StudyArea, access: Access) -> pd.DataFrame:
    """The gated compounds and their entrances, one row per compound.

    Parameters
    ----------
    area
        The study, with its gated compounds laid on the edges.
    access
        The study's access as walked (the compound each resident walks from).

    Returns
    -------
    pandas.DataFrame
        ``compound_id``, ``kind``, ``name``, ``residents_inside``, ``crossings`` (ways
        crossing its boundary), ``entrances`` (those open to walkers), ``gates`` (entrances
        at a mapped gate or entrance node), ``closed_crossings`` and ``entrances_mapped``
        (False: entered at every crossing).
    """
    comp = area.compounds
    if comp is None:
        return pd.DataFrame(columns=["compound_id", "kind", "name", "residents_inside"])
    n = len(comp)
    group = access.demand_compound
    inside = (
        np.bincount(group[group >= 0], weights=access.demand.residents[group >= 0], minlength=n)
        if group is not None
        else np.zeros(n)
    )
    cross = (
        comp.crossings
        if comp.crossings is not None
        else pd.DataFrame({"compound": [], "entrance": [], "gate": []})
    )
    of = cross["compound"].to_numpy(np.int64)
    entrance = cross["entrance"].to_numpy(bool)
    gate = cross["gate"].to_numpy(np.int64) >= 0
    return pd.DataFrame(
        {
            "compound_id": comp.areas["compound_id"].to_numpy(),
            "kind": comp.areas["kind"].to_numpy(),
            "name": comp.areas["name"].to_numpy(),
            "residents_inside": inside,
            "crossings": np.bincount(of, minlength=n),
            "entrances": np.bincount(of[entrance], minlength=n),
            "gates": np.bincount(of[entrance & gate], minlength=n),
            "closed_crossings": np.bincount(of[~entrance], minlength=n),
            "entrances_mapped": comp.with_mapped_entrances(),
        }
    )


@dataclass(frozen=True)
class Walls:
    """What the walls of gated compounds cost, as the report's tables.

    Attributes
    ----------
    by_category
        :func:`open_compounds_table`: coverage per category as walked and if open.
    ranking
        :func:`compound_ranking`: the compounds by residents newly covered if opened alone.
    compounds
        :func:`compounds_table`: the compounds and their entrances.
    entrances
        :func:`entrance_table`: candidate new entrances, ranked.
    """

    by_category: pd.DataFrame
    ranking: pd.DataFrame
    compounds: pd.DataFrame
    entrances: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


def walls_tables(
    network: WalkNetwork, area: StudyArea, params: PlanParams, access: Access
) -> Walls:
    """The walls' tables of a gated study (:class:`Walls`).

    Parameters
    ----------
    network
        The walk network of the study.
    area
        The study, with its gated compounds.
    params
        The plan's parameters.
    access
        The study's access as walked (gated).

    Returns
    -------
    Walls
        Coverage gated against open, the ranking and the compounds.
    """
    return Walls(
        open_compounds_table(network, area, params, access),
        compound_ranking(network, area, params, access),
        compounds_table(area, access),
        entrance_table(area, access),
    )


def _most_residents(area: StudyArea, access: Access) -> np.ndarray:
    """The compounds with the most residents inside, at most :data:`RANK_MAX_COMPOUNDS`."""
    assert area.compounds is not None and access.demand_compound is not None
    group = access.demand_compound
    inside = np.bincount(
        group[group >= 0],
        weights=access.demand.residents[group >= 0],
        minlength=len(area.compounds),
    )
    return np.argsort(-inside, kind="stable")[:RANK_MAX_COMPOUNDS]


def entrance_table(area: StudyArea, access: Access) -> pd.DataFrame:
    """Candidate new entrances of the compounds with the most residents inside
    (:func:`~lifecircle.coverage.entrances.entrance_ranking`), with their compound's id
    and name and their position in WGS84.

    Parameters
    ----------
    area
        The study, with its gated compounds.
    access
        The study's access as walked (gated).

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``compound_id``, ``name``, ``lon``, ``lat``, ``connector_m``, one column
        per category (residents newly covered) and ``residents_newly_covered`` (their
        sum), best first.
    """
    if area.compounds is None or access.demand_compound is None or access.gated is None:
        return pd.DataFrame(columns=["rank", "compound_id", "name", "lon", "lat"])
    found = entrance_ranking(
        access, area.catalog, area.facilities["category"].to_numpy(), _most_residents(area, access)
    )
    rows = found["compound"].to_numpy(np.int64)
    ll = gpd.GeoSeries(gpd.points_from_xy(found["x"], found["y"]), crs=area.crs).to_crs("EPSG:4326")
    out = found.drop(columns=["compound", "x", "y"]).rename(
        columns={"newly_covered": "residents_newly_covered"}
    )
    out.insert(1, "compound_id", area.compounds.areas["compound_id"].to_numpy()[rows])
    out.insert(2, "name", area.compounds.areas["name"].to_numpy()[rows])
    out.insert(3, "lon", ll.x.round(6).to_numpy())
    out.insert(4, "lat", ll.y.round(6).to_numpy())
    return out


def walls_notes(table: pd.DataFrame, ranking: pd.DataFrame, area: StudyArea) -> list[Note]:
    """Notes: the categories whose coverage the walls change, and the costliest walls.

    Parameters
    ----------
    table
        :func:`open_compounds_table`.
    ranking
        :func:`compound_ranking`.
    area
        The study (for the categories' names).

    Returns
    -------
    list of Note
        None when the walls change nothing.
    """
    notes = []
    changed = table.loc[table["open_minus_gated"].abs() > 0.5]
    if len(changed):
        rows = list(
            zip(
                changed["category"].astype(str),
                changed["gated_share"].astype(float),
                changed["open_share"].astype(float),
                strict=True,
            )
        )
        names = {
            lang: sep.join(
                f"{area.catalog[cat].name(lang)} {g:.1%} → {o:.1%}" for cat, g, o in rows
            )
            for lang, sep in (("en", "; "), ("zh", "；"))
        }
        notes.append(Note("note_compounds_open_scenario", {"changes": names}))
    top = ranking.loc[ranking["newly_covered"] > 0.5].head(5) if len(ranking) else ranking
    if len(top):
        shown = ", ".join(
            f"{cid}{' ' + str(name) if name else ''} (+{float(gain):,.0f})"
            for cid, name, gain in zip(
                top["compound_id"], top["name"], top["newly_covered"], strict=True
            )
        )
        notes.append(Note("note_compounds_ranking", {"compounds": shown}))
    return notes
