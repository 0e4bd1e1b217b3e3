"""The one schema of each input a study reads.

Each model here is both what the geo readers take (:func:`~lifecircle.geo.units.load_units`,
:func:`~lifecircle.geo.facilities.read_facilities`, ...) and what the plan file's
``[inputs.*]`` and ``[residents]`` tables are: unknown keys are errors, values are checked
once, here, and the models are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from lifecircle.errors import Problem
from lifecircle.i18n import Note

__all__ = [
    "BuildingsFile",
    "CandidateFile",
    "FacilityFile",
    "PopulationFile",
    "PopulationGrid",
    "Read",
    "ResidentModel",
    "Spec",
    "UnitsFile",
    "source_problems",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Read(Generic[T]):
    """What a reader of a user's file returns: the value, the problems found (not raised,
    so that every input's problems are reported together), notes for the report and, for a
    POI export, the audit of its codes (:data:`lifecircle.geo.poi.AUDIT_COLUMNS`)."""

    value: T
    problems: list[Problem] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    audit: pd.DataFrame | None = None


class Spec(BaseModel):
    """A strict, frozen input schema (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitsFile(Spec):
    """A boundary file of communities or grid cells and its columns."""

    path: str
    id_col: str | None = None
    name_col: str | None = None
    population_col: str | None = None
    encoding: str | None = None
    crs: str | int | None = None
    age_cols: dict[str, str] | None = None
    """The planner's age groups and the columns holding them, ``{"3-5" = "3至5岁"}``
    (:mod:`lifecircle.geo.ages`); columns named ``age_3_5`` or ``age_60+`` need none."""


class FacilityFile(Spec):
    """A user's facility file and how to read it.

    Attributes
    ----------
    path
        CSV/TSV, Excel, GeoJSON or GeoPackage.
    crs
        Coordinate system of the coordinates: ``wgs84`` (default), ``gcj02``, ``bd09`` or EPSG.
    encoding
        Text encoding of a CSV (detected when omitted).
    category
        One category id for every row (a file per category); else ``category_col``.
    category_col, name_col, id_col, capacity_col, lon_col, lat_col
        Column names; detected from the usual English and Chinese names when omitted.
    category_map
        A mapping file for labels the catalog does not know.
    mode
        ``"replace"`` or ``"add"`` (see :mod:`lifecircle.geo.facilities`).
    replaces
        With ``mode = "replace"``: the categories whose OSM facilities the file replaces,
        also those it has no row of (an official list with none of them in the area, or a
        what-if scenario that removed them all); default: the categories of its rows.
    sheet
        Excel sheet (name or number), or a list of sheet names to read one after another;
        needed when more than one sheet holds data.
    strict
        For an Amap or Baidu export (:mod:`lifecircle.geo.poi`): codes with no category are
        an error (by default their rows are left out with a warning).
    """

    path: str
    crs: str | int | None = None
    encoding: str | None = None
    category: str | None = None
    category_col: str | None = None
    name_col: str | None = None
    id_col: str | None = None
    capacity_col: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None
    category_map: str | None = None
    mode: Literal["replace", "add"] = "replace"
    replaces: list[str] | None = None
    sheet: str | int | list[str] | None = None
    strict: bool = False


class PopulationFile(Spec):
    """A user's population layer: points with residents, or polygons with a population."""

    path: str
    population_col: str | None = None
    crs: str | int | None = None
    encoding: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None
    age_cols: dict[str, str] | None = None
    """The age groups and the columns holding each row's residents of them, as the units'
    (:mod:`lifecircle.geo.ages`)."""


class PopulationGrid(Spec):
    """A raster of people per cell (GeoTIFF: WorldPop, GHS-POP or the office's own) read
    as resident points (:mod:`lifecircle.geo.popgrid`).

    Attributes
    ----------
    path
        The GeoTIFF; it must say its coordinate system.
    band
        The band holding people per cell (1, the first, by default).
    """

    path: str
    band: int = Field(1, ge=1)


class CompoundsFile(Spec):
    """The planner's own gated compounds: polygons, with an optional name column and a
    gated (yes/no) column (rows without one are gated)."""

    path: str
    name_col: str | None = None
    gated_col: str | None = None
    households_col: str | None = None
    crs: str | int | None = None
    encoding: str | None = None


class BuildingsFile(Spec):
    """The planner's own building footprints, replacing OSM's where the file covers the
    area (:mod:`lifecircle.geo.buildings`).

    Attributes
    ----------
    path
        GeoPackage, GeoJSON, Shapefile (polygons), or a CSV/Excel table with a WKT column
        (``geometry``, ``wkt``, ``几何``) in WGS84 unless ``crs`` says otherwise.
    floors_col, use_col, households_col, name_col
        Column names; detected when omitted (层数/楼层/floors/levels; 用途/性质/类型/use;
        户数/households; 名称/name). A floors column is needed unless a households column
        gives every building's residents.
    uses
        A file mapping use values to residential or not, read on top of the bundled one
        (``lifecircle/data/building_uses.toml``).
    """

    path: str
    floors_col: str | None = None
    use_col: str | None = None
    households_col: str | None = None
    name_col: str | None = None
    uses: str | None = None
    crs: str | int | None = None
    encoding: str | None = None


class CandidateFile(Spec):
    """Sites available for new facilities: points, or parcels (a point inside is used)."""

    path: str
    crs: str | int | None = None
    encoding: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None
    name_col: str | None = None
    id_col: str | None = None


class ResidentModel(Spec):
    """The numbers behind resident estimates.

    Attributes
    ----------
    floor_area_m2_per_person
        Gross floor area per resident.
    storey_height_m
        Height of one floor, to turn ``height`` into floors.
    default_floors
        Floors of a building with neither ``building:levels`` nor ``height``.
    generic_use
        ``"residential"`` or ``"exclude"``: what a ``building=yes`` with nothing else to go
        on is taken to be.
    persons_per_household
        Residents per household, for compound and building files that count households
        (户数). Default: Beijing's average family household size in the 2020 (seventh)
        census, 2.31 persons (北京市统计局、北京市第七次全国人口普查领导小组办公室,
        《北京市第七次全国人口普查公报》, 2021-05-19, 户别人口: 家庭户 8,230,792 户,
        家庭户人口 19,014,338 人, 平均每个家庭户的人口为 2.31 人; 19,014,338 / 8,230,792
        = 2.310). Other cities: set ``[residents] persons_per_household``.
    """

    floor_area_m2_per_person: float = Field(33.0, gt=0)
    storey_height_m: float = Field(3.0, gt=0)
    default_floors: float = Field(6.0, gt=0)
    generic_use: Literal["residential", "exclude"] = "residential"
    persons_per_household: float = Field(2.31, gt=0)


def source_problems(
    osm: Any, place: Any, units: Any, admin_level: Any, *, source: str = "inputs"
) -> list[Problem]:
    """The rules on where a study's streets and units come from, checked here only (the plan
    file and :func:`~lifecircle.geo.build.build_study_area` both ask): exactly one of an
    OSM file and a place, and not both a units file and an administrative level.

    Parameters
    ----------
    osm, place
        The OSM file and the place given (``None`` where not).
    units, admin_level
        The units file and the administrative level given (``None`` where not).
    source
        Where they were given (a plan file, or ``inputs``).

    Returns
    -------
    list of Problem
        Empty when the rules hold.

    Examples
    --------
    >>> [p.key for p in source_problems(None, None, "u.geojson", 8)]
    ['one_osm_source', 'units_and_admin_level']
    """
    problems = []
    if (osm is None) == (place is None):
        problems.append(Problem.of("one_osm_source", source, place=("key", "inputs.osm")))
    if units is not None and admin_level is not None:
        problems.append(Problem.of("units_and_admin_level", source, place=("key", "inputs.units")))
    return problems
