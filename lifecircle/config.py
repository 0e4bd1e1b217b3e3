"""The plan file (TOML) and its validation.

A plan names a study's inputs, the catalog, the numbers of the analysis and what to
place where. It is validated before any work starts, with every problem listed at once;
unknown keys are errors, never silently ignored. Relative paths are relative to the plan
file's folder. ``lifecircle plan --example`` prints a commented example.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lifecircle.app import plan
from lifecircle.errors import CatalogError, PlanFileError, Problem
from lifecircle.geo.build import CandidateFile, StudyInputs, UnitsFile
from lifecircle.geo.catalog import load_catalog
from lifecircle.geo.facilities import FacilityFile
from lifecircle.geo.residents import PopulationFile, ResidentModel
from lifecircle.params import (
    DEFAULT_SPEED_KMH,
    MapOptions,
    OutputOptions,
    PlacementSpec,
    PlanParams,
)
from lifecircle.progress import Progress
from lifecircle.result import PlanResult

__all__ = ["EXAMPLE_PLAN", "PlanConfig", "load_plan", "plan_from_dict"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitsConfig(_Strict):
    """Communities or grid cells from a boundary file."""

    path: str
    id_col: str | None = None
    name_col: str | None = None
    population_col: str | None = None
    encoding: str | None = None
    crs: str | int | None = None


class GridConfig(_Strict):
    """A generated management grid (when no units file or admin level is given)."""

    cell_m: float = Field(250.0, gt=0)
    shape: Literal["square", "hex"] = "square"
    boundary: str | None = None


class FacilitiesConfig(_Strict):
    """One of the user's facility files."""

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
    sheet: str | int | None = None


class PopulationConfig(_Strict):
    """Residents from the user's population points or polygons."""

    path: str
    population_col: str | None = None
    crs: str | int | None = None
    encoding: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None


class CandidatesConfig(_Strict):
    """Sites available for new facilities (else generated on the network)."""

    path: str | None = None
    crs: str | int | None = None
    encoding: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None
    name_col: str | None = None
    id_col: str | None = None
    spacing_m: float | None = Field(100.0, gt=0)


class InputsConfig(_Strict):
    """Where the data comes from."""

    osm: str | None = None
    place: str | None = None
    units: UnitsConfig | None = None
    admin_level: int | None = Field(None, ge=1, le=12)
    grid: GridConfig = GridConfig()
    facilities: list[FacilitiesConfig] = []
    osm_facilities: bool = True
    population: PopulationConfig | None = None
    candidates: CandidatesConfig = CandidatesConfig()

    @model_validator(mode="after")
    def _one_osm_source(self) -> InputsConfig:
        if (self.osm is None) == (self.place is None):
            raise ValueError(
                "give exactly one of osm (a file) and place (a name or west,south,east,north)"
            )
        if self.units is not None and self.admin_level is not None:
            raise ValueError("give units or admin_level, not both")
        return self


class ResidentsConfig(_Strict):
    """How residents are estimated from buildings."""

    floor_area_m2_per_person: float = Field(33.0, gt=0)
    storey_height_m: float = Field(3.0, gt=0)
    default_floors: float = Field(6.0, gt=0)
    generic_use: Literal["residential", "exclude"] = "residential"


class AnalysisConfig(_Strict):
    """The numbers of the analysis."""

    speed_kmh: float = Field(DEFAULT_SPEED_KMH, gt=0)
    search_factor: float = Field(3.0, ge=1)
    max_snap_m: float = Field(250.0, gt=0)
    unit_share: float = Field(0.5, gt=0, le=1)
    edge_spacing_m: float = Field(50.0, gt=0)
    buffer_m: float | None = Field(None, gt=0)
    crs: str | None = None
    count_within: bool = False
    time_limit_s: float = Field(60.0, gt=0)
    catchments: bool = True
    catchment_width_m: float = Field(40.0, gt=0)
    catchments_max_edges: int = Field(250_000, ge=0)
    parts: int | str | None = None

    @field_validator("parts", mode="before")
    @classmethod
    def _parts(cls, value: Any) -> Any:
        ok = (isinstance(value, int) and not isinstance(value, bool) and value >= 1) or (
            isinstance(value, str) and value.strip()
        )
        if value is not None and not ok:
            raise ValueError("give a number of parts (1 or more) or a column of the units")
        return value


class PlacementConfig(_Strict):
    """New sites for a category: a number of sites, or a coverage target."""

    category: str | None = None
    sites: int | None = Field(None, ge=1)
    target_share: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_goal(self) -> PlacementConfig:
        if (self.sites is None) == (self.target_share is None):
            raise ValueError(
                "give exactly one of sites (how many) and target_share (coverage to reach)"
            )
        return self


class OutputsConfig(_Strict):
    """What to write."""

    lang: Literal["en", "zh"] = "en"
    offline: bool | None = None
    tiles: str = "osm"
    map_category: str | None = None
    map_measure: Literal["coverage", "completeness"] = "coverage"
    map_level: str = "all"
    formats: list[Literal["map", "csv", "xlsx", "gpkg", "html"]] = [
        "map",
        "csv",
        "xlsx",
        "gpkg",
        "html",
    ]


class PlanConfig(_Strict):
    """A whole plan file."""

    title: str = ""
    catalog: str = "gb50180"
    inputs: InputsConfig
    residents: ResidentsConfig = ResidentsConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    placement: list[PlacementConfig] = []
    outputs: OutputsConfig = OutputsConfig()

    def study_inputs(self) -> StudyInputs:
        """The inputs, as :func:`lifecircle.geo.build_study_area` takes them."""
        i = self.inputs
        cand = i.candidates
        return StudyInputs(
            osm=i.osm,
            place=i.place,
            units=UnitsFile(**i.units.model_dump()) if i.units else None,
            admin_level=i.admin_level,
            grid_m=i.grid.cell_m,
            grid_shape=i.grid.shape,
            boundary=i.grid.boundary,
            facilities=tuple(FacilityFile(**f.model_dump()) for f in i.facilities),
            osm_facilities=i.osm_facilities,
            population=PopulationFile(**i.population.model_dump()) if i.population else None,
            candidates=CandidateFile(**cand.model_dump(exclude={"spacing_m"}))
            if cand.path
            else None,
            catalog=self.catalog,
            resident_model=ResidentModel(**self.residents.model_dump()),
            speed_kmh=self.analysis.speed_kmh,
            crs=self.analysis.crs,
            buffer_m=self.analysis.buffer_m,
        )

    def output_options(self) -> OutputOptions:
        """What to write, as :func:`lifecircle.app.plan` takes it."""
        o = self.outputs
        return OutputOptions(
            lang=o.lang,
            formats=tuple(o.formats),
            offline=o.offline,
            title=self.title,
            map=MapOptions(
                category=o.map_category, measure=o.map_measure, level=o.map_level, tiles=o.tiles
            ),
        )

    def run(
        self,
        out: str | Path,
        *,
        force: bool = False,
        progress: Progress | None = None,
        client: object = None,
    ) -> PlanResult:
        """Run this plan into ``out`` (:func:`lifecircle.app.plan`).

        Parameters
        ----------
        out
            The output folder.
        force
            Replace an earlier lifecircle output in ``out``.
        progress
            Called at the start and end of each stage.
        client
            A Dask client to run the parts of a partitioned study on.

        Returns
        -------
        PlanResult
            The analysis, with the seconds each stage took.
        """
        return plan(
            self.study_inputs(),
            self.params(),
            out,
            options=self.output_options(),
            force=force,
            plan_doc=self.model_dump(mode="json"),
            input_files=plan_files(self),
            progress=progress,
            client=client,
        )

    def params(self) -> PlanParams:
        """The analysis parameters, as :func:`lifecircle.analysis.run_plan` takes them."""
        a = self.analysis
        return PlanParams(
            speed_kmh=a.speed_kmh,
            search_factor=a.search_factor,
            max_snap_m=a.max_snap_m,
            unit_share=a.unit_share,
            edge_spacing_m=a.edge_spacing_m,
            candidate_spacing_m=self.inputs.candidates.spacing_m,
            placements=tuple(
                PlacementSpec(p.category, p=p.sites, share=p.target_share) for p in self.placement
            ),
            time_limit_s=a.time_limit_s,
            count_within=a.count_within,
            catchments=a.catchments,
            catchment_width_m=a.catchment_width_m,
            catchments_max_edges=a.catchments_max_edges,
            parts=a.parts,
        )


_PATH_KEYS = {
    ("inputs", "osm"),
    ("inputs", "units", "path"),
    ("inputs", "grid", "boundary"),
    ("inputs", "population", "path"),
    ("inputs", "candidates", "path"),
}


def _resolve_paths(doc: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make relative file paths relative to ``base`` (the plan file's folder)."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            return str((base / value).resolve())
        return value

    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in doc.items()}
    inputs = out.get("inputs")
    if isinstance(inputs, dict):
        inputs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in inputs.items()}
        out["inputs"] = inputs
        for key_path in _PATH_KEYS:
            node: Any = out
            for k in key_path[:-1]:
                node = node.get(k) if isinstance(node, dict) else None
            if isinstance(node, dict) and key_path[-1] in node:
                node[key_path[-1]] = fix(node[key_path[-1]])
        facilities = inputs.get("facilities")
        if isinstance(facilities, list):
            inputs["facilities"] = [
                {**f, **{k: fix(f[k]) for k in ("path", "category_map") if k in f}}
                if isinstance(f, dict)
                else f
                for f in facilities
            ]
    catalog = out.get("catalog")
    if isinstance(catalog, str) and catalog.endswith(".toml"):
        out["catalog"] = fix(catalog)
    return out


def plan_from_dict(
    doc: dict[str, Any], *, source: str = "plan", base: Path | None = None
) -> PlanConfig:
    """Validate a plan given as a dict (paths relative to ``base``).

    Raises
    ------
    PlanFileError
        Listing every problem: unknown keys, wrong types, missing inputs.
    """
    if base is not None:
        doc = _resolve_paths(doc, base)
    try:
        config = PlanConfig.model_validate(doc)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top)"
            kind = err["type"]
            if kind == "extra_forbidden":
                msg, fix = (
                    "unknown key",
                    "remove it or check its spelling (lifecircle plan --example lists every key)",
                )
            elif kind == "missing":
                msg, fix = "required key is missing", "add it"
            else:
                msg = err["msg"].removeprefix("Value error, ")
                fix = (
                    f"got {err.get('input')!r}"
                    if not isinstance(err.get("input"), dict)
                    else "see lifecircle plan --example"
                )
            problems.append(Problem(source, msg, where=f"key {where}", fix=fix))
        raise PlanFileError(problems) from None
    problems = _check_plan(config, source)
    if problems:
        raise PlanFileError(problems)
    return config


def plan_files(config: PlanConfig) -> dict[str, str]:
    """The files a plan reads, by plan key (``inputs.osm``, ``inputs.facilities.0.path``...,
    and ``catalog`` when it is a TOML file)."""
    i = config.inputs
    files = [("inputs.osm", i.osm)]
    files += [("inputs.units.path", i.units.path if i.units else None)]
    files += [("inputs.grid.boundary", i.grid.boundary)]
    files += [("inputs.population.path", i.population.path if i.population else None)]
    files += [("inputs.candidates.path", i.candidates.path)]
    for n, f in enumerate(i.facilities):
        files += [(f"inputs.facilities.{n}.path", f.path)]
        files += [(f"inputs.facilities.{n}.category_map", f.category_map)]
    if config.catalog.endswith(".toml"):
        files += [("catalog", config.catalog)]
    return {key: path for key, path in files if path is not None}


def _check_plan(config: PlanConfig, source: str) -> list[Problem]:
    """What the types cannot say: files that do not exist, categories the catalog lacks."""
    problems = []
    for key, path in plan_files(config).items():
        if key != "catalog" and not Path(path).expanduser().is_file():  # the catalog: below
            problems.append(
                Problem(
                    source,
                    f"file not found: {path}",
                    where=f"key {key}",
                    fix="check the path (relative paths are from the plan file's folder)",
                )
            )
    try:
        catalog = load_catalog(config.catalog)
    except CatalogError as exc:
        problems.extend(exc.problems)
        return problems
    wanted = [(f"placement.{n}.category", p.category) for n, p in enumerate(config.placement)]
    wanted += [("outputs.map_category", config.outputs.map_category)]
    for key, cat in wanted:
        if cat is not None and cat not in catalog:
            problems.append(
                Problem(
                    source,
                    f"unknown category {cat!r} in catalog {catalog.id}",
                    where=f"key {key}",
                    fix=f"use one of {', '.join(catalog.ids)}",
                )
            )
    return problems


def load_plan(path: str | Path) -> PlanConfig:
    """Read and validate a plan file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise PlanFileError(
            Problem(
                str(path),
                "plan file not found",
                fix="check the path, or write one from lifecircle plan --example",
            )
        )
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PlanFileError(
            Problem(str(path), f"not valid TOML: {exc}", fix="correct the syntax")
        ) from None
    except UnicodeDecodeError:
        raise PlanFileError(
            Problem(str(path), "not UTF-8 text", fix="save the plan file as UTF-8")
        ) from None
    return plan_from_dict(doc, source=str(path), base=p.parent.resolve())


EXAMPLE_PLAN = """\
# lifecircle plan file: a study of one district. Paths are relative to this file.
# Run it with:  lifecircle plan this-file.toml --out results
title = "Haidian 15-minute life circle 2026"
catalog = "gb50180"            # or mofcom, fifteen-minute-city, or a path to your own .toml

[inputs]
osm = "haidian.osm.pbf"        # an OSM extract (.osm.pbf, .osm, .osm.bz2)
# place = "Haidian, Beijing"   # or a place fetched online (instead of osm)
# admin_level = 8              # units from OSM administrative areas instead of a file
osm_facilities = true          # also look for facilities in OSM

[inputs.units]                 # communities; without this table a grid is generated
path = "communities.geojson"
id_col = "社区编码"            # detected when omitted (id, 编码, name, 名称, population, 人口...)
name_col = "社区名称"
population_col = "常住人口"    # known residents: estimates are scaled to match

[inputs.grid]                  # used when there is no units table and no admin_level
cell_m = 250
shape = "square"               # or hex

[[inputs.facilities]]          # your own facility list (repeat the table for more files)
path = "poi_amap.csv"
crs = "gcj02"                  # wgs84 (default), gcj02 (Amap, Tencent), bd09 (Baidu), or EPSG
encoding = "gbk"               # detected when omitted
category_col = "类别"
category_map = "category_map.toml"   # "your label" = "category id" (or "ignore")
mode = "replace"               # replace OSM's facilities of the same categories, or add to them

# [inputs.population]          # residents from your own points or polygons instead of buildings
# path = "population.gpkg"
# population_col = "人口"

[inputs.candidates]            # where new facilities may go
# path = "parcels.gpkg"        # your available sites or parcels; else points on the walk network
spacing_m = 100

[residents]
floor_area_m2_per_person = 33
storey_height_m = 3
default_floors = 6
generic_use = "residential"    # what a bare building=yes is taken to be (or exclude)

[analysis]
speed_kmh = 4.0
search_factor = 3.0            # report distances up to 3 x each category's threshold
max_snap_m = 250
unit_share = 0.5               # a unit is covered when this share of its residents is
time_limit_s = 60              # for the placement solver
catchments = true              # walking catchment polygons for the map (false saves time)
catchments_max_edges = 250000  # not drawn on bigger networks (a whole city): see the README
# parts = "district"           # analyse in parts: by a column of the units, or a number of
                               # groups of neighbouring units (the README's "Whole cities")

[[placement]]
category = "kindergarten"
sites = 5                      # maximal covering: the best 5 new sites

[[placement]]
category = "elderly_day_care"
target_share = 0.95            # set covering: the fewest sites reaching 95% of coverable residents

[outputs]
lang = "zh"
formats = ["map", "csv", "xlsx", "gpkg", "html"]
# offline = true               # a map with no web tiles (government intranets)
"""
