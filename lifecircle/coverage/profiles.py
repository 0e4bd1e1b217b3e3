"""Which walking profile (:class:`~lifecircle.params.WalkProfile`) each category's
residents walk on.

The rule, checked and applied here only:

* a plan's ``[analysis.category_profiles]`` entry for the category, else
* ``[analysis] profile``: a profile's name (every category walks it); ``"catalog"`` (each
  category walks the profile its catalog names, the standard one where it names none); or
  ``"auto"`` (the default): as ``"catalog"`` where the study lies in mainland China, where
  the Chinese catalogs' elderly categories name the ``elderly`` profile, and the standard
  profile elsewhere (so a study outside China measures plain metres unless asked).

Profiles are the built-in ones (:func:`~lifecircle.params.builtin_profiles`) and the plan's
own (``[profiles.NAME]``), which may redefine a built-in one.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd

from lifecircle.errors import InputError, Problem
from lifecircle.geo.catalog import ServiceCatalog
from lifecircle.geo.compounds import in_mainland_china
from lifecircle.geo.study_area import StudyArea
from lifecircle.params import (
    PROFILE_MODES,
    STANDARD_PROFILE,
    PlanParams,
    WalkProfile,
    builtin_profiles,
)

__all__ = ["category_profiles", "known_profiles", "profile_problems", "resolve_profiles"]


def known_profiles(params: PlanParams) -> dict[str, WalkProfile]:
    """The profiles a plan may name: the built-in ones and its own (which win)."""
    return {**builtin_profiles(), **{p.name: p for p in params.profiles}}


def profile_problems(catalog: ServiceCatalog, params: PlanParams, source: str) -> list[Problem]:
    """Every profile a plan or its catalog names that does not exist, and every category
    the plan's per-category profiles name that is not in the catalog.

    Parameters
    ----------
    catalog
        The study's catalog.
    params
        The plan's parameters (``profile``, ``category_profiles``, ``profiles``).
    source
        The plan file or command line the parameters come from.

    Returns
    -------
    list of Problem
        One per unknown name.
    """
    known = known_profiles(params)
    names = ", ".join(sorted(known))
    problems = []
    if params.profile not in known and params.profile not in PROFILE_MODES:
        problems.append(
            Problem.of(
                "unknown_profile",
                source,
                place=("key", "analysis.profile"),
                profile=params.profile,
                profiles=f"{names}, {', '.join(PROFILE_MODES)}",
            )
        )
    for cat, name in params.category_profiles.items():
        key = f"analysis.category_profiles.{cat}"
        if cat not in catalog:
            ids = ", ".join(catalog.ids)
            problems.append(
                Problem.of(
                    "unknown_category",
                    source,
                    place=("key", key),
                    category=cat,
                    catalog=catalog.id,
                    ids=ids,
                )
            )
        if name not in known:
            problems.append(
                Problem.of(
                    "unknown_profile", source, place=("key", key), profile=name, profiles=names
                )
            )
    for c in catalog:
        if c.profile is not None and c.profile not in known:
            problems.append(
                Problem.of(
                    "unknown_profile",
                    catalog.path or catalog.id,
                    place=("key", f"category {c.id}, profile"),
                    profile=c.profile,
                    profiles=names,
                )
            )
    return problems


def resolve_profiles(
    catalog: ServiceCatalog, params: PlanParams, *, in_china: bool
) -> dict[str, WalkProfile]:
    """The walking profile of every category of ``catalog`` (the module's rule).

    Parameters
    ----------
    catalog
        The study's catalog.
    params
        The plan's parameters.
    in_china
        Whether the study lies in mainland China (for ``profile = "auto"``).

    Returns
    -------
    dict
        Category id -> profile.

    Raises
    ------
    InputError
        When a name is unknown (:func:`profile_problems`).
    """
    problems = profile_problems(catalog, params, "[analysis] profile")
    if problems:
        raise InputError(problems)
    known = known_profiles(params)
    use_catalog = params.profile == "catalog" or (params.profile == "auto" and in_china)
    standard = known.get(STANDARD_PROFILE.name, STANDARD_PROFILE)
    out = {}
    for c in catalog:
        if c.id in params.category_profiles:
            out[c.id] = known[params.category_profiles[c.id]]
        elif params.profile not in PROFILE_MODES:
            out[c.id] = known[params.profile]
        elif use_catalog and c.profile is not None:
            out[c.id] = known[c.profile]
        else:
            out[c.id] = standard
    return out


def category_profiles(area: StudyArea, params: PlanParams) -> Mapping[str, WalkProfile]:
    """The walking profile of every category of a study (:func:`resolve_profiles`, with
    "in mainland China" judged at the centre of the study's extent)."""
    centre = gpd.GeoSeries([area.extent.centroid], crs=area.crs).to_crs("EPSG:4326").iloc[0]
    return resolve_profiles(area.catalog, params, in_china=in_mainland_china(centre.x, centre.y))
