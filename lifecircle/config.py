"""The plan file (TOML) and its validation.

A plan names a study's inputs, the catalog, the numbers of the analysis and what to
place where. It is validated before any work starts, with every problem listed at once;
unknown keys are errors, never silently ignored. Relative paths are relative to the plan
file's folder. ``lifecircle plan --example`` prints a commented example.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from lifecircle.analysis import category_problems
from lifecircle.app import plan
from lifecircle.coverage.profiles import profile_problems
from lifecircle.errors import CatalogError, PlanFileError, Problem
from lifecircle.geo.build import StudyInputs
from lifecircle.geo.catalog import load_catalog
from lifecircle.geo.specs import (
    BuildingsFile,
    CandidateFile,
    CompoundsFile,
    FacilityFile,
    PopulationFile,
    PopulationGrid,
    ResidentModel,
    Spec,
    UnitsFile,
    source_problems,
)
from lifecircle.i18n import tr
from lifecircle.params import (
    MapOptions,
    OutputOptions,
    PlacementSpec,
    PlanParams,
    WalkProfile,
    builtin_profiles,
)
from lifecircle.progress import Progress
from lifecircle.result import PlanResult

__all__ = ["EXAMPLE_PLAN", "PlanConfig", "load_plan", "plan_from_dict"]


class _KeyedError(ValueError):
    """A validator's error with its problem key (``problem_<key>``, in every language);
    its message is the English text."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(tr(f"problem_{key}"))


_PYDANTIC_TEXTS = {
    "greater_than": "plan_gt",
    "greater_than_equal": "plan_ge",
    "less_than": "plan_lt",
    "less_than_equal": "plan_le",
    "literal_error": "plan_literal",
    "int_parsing": "plan_int",
    "int_type": "plan_int",
    "int_from_float": "plan_int",
    "float_parsing": "plan_number",
    "float_type": "plan_number",
    "bool_parsing": "plan_bool",
    "bool_type": "plan_bool",
    "string_type": "plan_text",
    "list_type": "plan_list",
    "dict_type": "plan_table",
    "model_type": "plan_table",
    "model_attributes_type": "plan_table",
}
"""The texts (``lifecircle/data/i18n``) of pydantic's errors, by error type."""


def _validation_problem(err: Any, source: str) -> Problem:
    """One pydantic validation error as a problem of the plan, in every language."""
    place = ("key", ".".join(str(p) for p in err["loc"]) or "(top)")
    kind = err["type"]
    if kind == "extra_forbidden":
        return Problem.of("plan_unknown_key", source, place=place)
    if kind == "missing":
        return Problem.of("plan_key_missing", source, place=place)
    msg = err["msg"].removeprefix("Value error, ")
    ctx = dict(err.get("ctx") or {})
    error = ctx.get("error")
    if isinstance(error, _KeyedError):
        zh = tr(f"problem_{error.key}", "zh")
    elif kind in _PYDANTIC_TEXTS:
        if "expected" in ctx:
            ctx["expected"] = str(ctx["expected"]).replace(" or ", "、").replace(", ", "、")
        zh = tr(_PYDANTIC_TEXTS[kind], "zh", **ctx)
    else:
        zh = tr("plan_other", "zh", msg=msg)
    got = err.get("input")
    key = "plan_invalid_table" if isinstance(got, dict) else "plan_invalid"
    return Problem.of(key, source, place=place, why={"en": msg, "zh": zh}, got=repr(got))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GridConfig(_Strict):
    """A generated management grid (when no units file or admin level is given)."""

    cell_m: float = Field(250.0, gt=0)
    shape: Literal["square", "hex"] = "square"
    boundary: str | None = None


class _CandidatesBase(Spec):
    """Sites available for new facilities (else generated on the network), and the
    spacing of generated ones."""

    if TYPE_CHECKING:  # the fields, made from CandidateFile's below
        path: str | None = None
        spacing_m: float | None = None

    def file(self) -> CandidateFile | None:
        """The candidates file, as :func:`lifecircle.geo.build_study_area` reads it."""
        if not self.path:
            return None
        return CandidateFile.model_validate(self.model_dump(exclude={"spacing_m"}))


def _fields_of(model: type[BaseModel], *, skip: set[str]) -> dict[str, Any]:
    """``create_model`` field definitions of ``model``'s fields (but ``skip``)."""
    return {
        name: (info.annotation, info)
        for name, info in model.model_fields.items()
        if name not in skip
    }


if TYPE_CHECKING:
    CandidatesConfig: TypeAlias = _CandidatesBase
else:
    CandidatesConfig = create_model(
        "CandidatesConfig",
        __base__=_CandidatesBase,
        __doc__=_CandidatesBase.__doc__,
        path=(str | None, None),
        **_fields_of(CandidateFile, skip={"path"}),
        spacing_m=(float | None, Field(PlanParams.candidate_spacing_m, gt=0)),
    )


class InputsConfig(_Strict):
    """Where the data comes from."""

    osm: str | None = None
    place: str | None = None
    units: UnitsFile | None = None
    admin_level: int | None = Field(None, ge=1, le=12)
    grid: GridConfig = GridConfig()
    facilities: list[FacilityFile] = []
    osm_facilities: bool = True
    population: PopulationFile | None = None
    population_grid: PopulationGrid | None = None
    compounds: CompoundsFile | None = None
    candidates: CandidatesConfig = CandidatesConfig()
    buildings: BuildingsFile | None = None


class _AnalysisBase(_Strict):
    """The numbers of the analysis: every field of PlanParams but the candidates' spacing
    and the placements (their own tables), and what StudyInputs takes (buffer_m, crs)."""

    if TYPE_CHECKING:  # the fields, made from PlanParams' below
        buffer_m: float | None = None
        crs: str | None = None
        compounds: Literal["auto", "gated", "open"] = "auto"

    @field_validator("parts", mode="before", check_fields=False)
    @classmethod
    def _parts(cls, value: Any) -> Any:
        ok = (isinstance(value, int) and not isinstance(value, bool) and value >= 1) or (
            isinstance(value, str) and value.strip()
        )
        if value is not None and not ok:
            raise _KeyedError("plan_parts")
        return value

    def params(
        self,
        candidate_spacing_m: float | None,
        placements: Sequence[PlacementSpec],
        profiles: Sequence[WalkProfile] = (),
    ) -> PlanParams:
        """These numbers, with the candidates' spacing, the placements and the plan's
        walking profiles, as PlanParams.

        Parameters
        ----------
        candidate_spacing_m, placements, profiles
            The ``[inputs.candidates]`` spacing, the ``[[placement]]`` tables and the
            ``[profiles.NAME]`` tables.

        Returns
        -------
        PlanParams
            The analysis parameters.
        """
        fields = self.model_dump(exclude=set(_STUDY_KEYS))
        return PlanParams(
            **fields,
            candidate_spacing_m=candidate_spacing_m,
            placements=tuple(placements),
            profiles=tuple(profiles),
        )


_ANALYSIS_LIMITS: dict[str, dict[str, Any]] = {
    "speed_kmh": {"gt": 0},
    "search_factor": {"ge": 1},
    "max_snap_m": {"gt": 0},
    "unit_share": {"gt": 0, "le": 1},
    "edge_spacing_m": {"gt": 0},
    "time_limit_s": {"gt": 0},
    "catchment_width_m": {"gt": 0},
    "catchments_max_edges": {"ge": 0},
    "gap_link_m": {"gt": 0},
}
"""The plan file's bounds on PlanParams' numbers."""

_STUDY_KEYS: dict[str, Any] = {
    "buffer_m": (float | None, Field(None, gt=0)),
    "crs": (str | None, None),
    "compounds": (Literal["auto", "gated", "open"], "auto"),
}
"""[analysis] keys that are StudyInputs', not PlanParams' (after edge_spacing_m)."""


def _analysis_fields() -> dict[str, Any]:
    """``create_model`` field definitions: PlanParams' fields, their defaults and bounds."""
    hints = get_type_hints(PlanParams)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(PlanParams):
        if f.name not in {"candidate_spacing_m", "placements", "profiles"}:
            default: Any = f.default
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            out[f.name] = (hints[f.name], Field(default, **_ANALYSIS_LIMITS.get(f.name, {})))
        if f.name == "edge_spacing_m":
            out.update(_STUDY_KEYS)
    return out


if TYPE_CHECKING:
    AnalysisConfig: TypeAlias = _AnalysisBase
else:
    AnalysisConfig = create_model(
        "AnalysisConfig",
        __base__=_AnalysisBase,
        __doc__="The numbers of the analysis.",
        **_analysis_fields(),
    )


class ProfileConfig(_Strict):
    """A walking profile (``[profiles.NAME]``): a speed and cost factors per kind of way
    (:class:`lifecircle.params.WalkProfile`); omitted keys keep the built-in profile's
    values when NAME is one (standard, elderly), else the reference walker's."""

    speed_m_s: float | None = Field(None, gt=0)
    steps_factor: float | None = Field(None, ge=1)
    footbridge_factor: float | None = Field(None, ge=1)
    underpass_factor: float | None = Field(None, ge=1)

    def profile(self, name: str) -> WalkProfile:
        """The profile ``name`` with these values."""
        base = builtin_profiles().get(name, WalkProfile(name))
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return dataclasses.replace(base, **given)


class PlacementConfig(_Strict):
    """New sites for a category: a number of sites, or a coverage target."""

    category: str | None = None
    sites: int | None = Field(None, ge=1)
    target_share: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_goal(self) -> PlacementConfig:
        if (self.sites is None) == (self.target_share is None):
            raise _KeyedError("plan_one_goal")
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
    residents: ResidentModel = ResidentModel()
    analysis: AnalysisConfig = AnalysisConfig()
    placement: list[PlacementConfig] = []
    profiles: dict[str, ProfileConfig] = {}
    outputs: OutputsConfig = OutputsConfig()

    def study_inputs(self) -> StudyInputs:
        """The inputs, as :func:`lifecircle.geo.build_study_area` takes them."""
        i = self.inputs
        return StudyInputs(
            osm=i.osm,
            place=i.place,
            units=i.units,
            admin_level=i.admin_level,
            grid_m=i.grid.cell_m,
            grid_shape=i.grid.shape,
            boundary=i.grid.boundary,
            facilities=tuple(i.facilities),
            osm_facilities=i.osm_facilities,
            population=i.population,
            population_grid=i.population_grid,
            candidates=i.candidates.file(),
            catalog=self.catalog,
            resident_model=self.residents,
            speed_kmh=self.params().speed_kmh,
            crs=self.analysis.crs,
            buffer_m=self.analysis.buffer_m,
            compounds=self.analysis.compounds,
            compounds_file=i.compounds,
            buildings=i.buildings,
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
        return self.analysis.params(
            self.inputs.candidates.spacing_m,
            [PlacementSpec(p.category, p=p.sites, share=p.target_share) for p in self.placement],
            [cfg.profile(name) for name, cfg in self.profiles.items()],
        )


_PATH_KEYS = {
    ("inputs", "osm"),
    ("inputs", "units", "path"),
    ("inputs", "grid", "boundary"),
    ("inputs", "population", "path"),
    ("inputs", "population_grid", "path"),
    ("inputs", "candidates", "path"),
    ("inputs", "compounds", "path"),
    ("inputs", "buildings", "path"),
    ("inputs", "buildings", "uses"),
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

    Parameters
    ----------
    doc
        The plan, as read from its TOML file.
    source
        The plan file's name, for the messages.
    base
        The folder relative paths start from (the plan file's); ``None`` keeps them.

    Returns
    -------
    PlanConfig
        The validated plan.

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
        problems = [_validation_problem(err, source) for err in exc.errors()]
        flagged = {p.place[1] for p in problems if p.place is not None}
        missing = _file_problems(_named_files(doc), source)  # every problem at once
        raise PlanFileError(
            problems + [p for p in missing if p.place is None or p.place[1] not in flagged]
        ) from None
    config = _with_ids(config)
    problems = _check_plan(config, source)
    if problems:
        raise PlanFileError(problems)
    return config


def _with_ids(config: PlanConfig) -> PlanConfig:
    """``config`` with each category named by its Chinese or English name (or an alias)
    named by its id instead (unknown names are left for :func:`_check_plan` to report)."""
    try:
        catalog = load_catalog(config.catalog)
    except CatalogError:
        return config

    def ids(label: str | None) -> str | None:
        return None if label is None else (catalog.resolve(label) or label)

    placement = [p.model_copy(update={"category": ids(p.category)}) for p in config.placement]
    facilities = [
        f.model_copy(
            update={
                "category": ids(f.category),
                "replaces": None if f.replaces is None else [ids(c) for c in f.replaces],
            }
        )
        for f in config.inputs.facilities
    ]
    outputs = config.outputs.model_copy(update={"map_category": ids(config.outputs.map_category)})
    inputs = config.inputs.model_copy(update={"facilities": facilities})
    return config.model_copy(update={"placement": placement, "outputs": outputs, "inputs": inputs})


def plan_files(config: PlanConfig) -> dict[str, str]:
    """The files a plan reads, by plan key (``inputs.osm``, ``inputs.facilities.0.path``...,
    and ``catalog`` when it is a TOML file)."""
    i = config.inputs
    files = [("inputs.osm", i.osm)]
    files += [("inputs.units.path", i.units.path if i.units else None)]
    files += [("inputs.grid.boundary", i.grid.boundary)]
    files += [("inputs.population.path", i.population.path if i.population else None)]
    grid = i.population_grid
    files += [("inputs.population_grid.path", grid.path if grid else None)]
    files += [("inputs.candidates.path", i.candidates.path)]
    files += [("inputs.compounds.path", i.compounds.path if i.compounds else None)]
    files += [("inputs.buildings.path", i.buildings.path if i.buildings else None)]
    files += [("inputs.buildings.uses", i.buildings.uses if i.buildings else None)]
    for n, f in enumerate(i.facilities):
        files += [(f"inputs.facilities.{n}.path", f.path)]
        files += [(f"inputs.facilities.{n}.category_map", f.category_map)]
    if config.catalog.endswith(".toml"):
        files += [("catalog", config.catalog)]
    return {key: path for key, path in files if path is not None}


def _named_files(doc: dict[str, Any]) -> dict[str, str]:
    """The files a plan document names, by plan key, before it is validated (so that a
    missing file is reported with the document's other problems)."""
    files: dict[str, str] = {}
    for key_path in _PATH_KEYS:
        node: Any = doc
        for k in key_path:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            files[".".join(key_path)] = node
    inputs = doc.get("inputs")
    facilities = inputs.get("facilities") if isinstance(inputs, dict) else None
    for n, f in enumerate(facilities if isinstance(facilities, list) else []):
        for k in ("path", "category_map"):
            if isinstance(f, dict) and isinstance(f.get(k), str) and f[k]:
                files[f"inputs.facilities.{n}.{k}"] = f[k]
    return files


def _file_problems(files: dict[str, str], source: str) -> list[Problem]:
    """The files (by plan key) that are missing, or folders."""
    problems = []
    for key, path in files.items():
        if not Path(path).expanduser().is_file():
            kind = "path_is_a_folder" if Path(path).expanduser().is_dir() else "file_not_found"
            problems.append(Problem.of(kind, source, place=("key", key), path=path))
    return problems


def _check_plan(config: PlanConfig, source: str) -> list[Problem]:
    """What the types cannot say: files that do not exist, categories the catalog lacks."""
    i = config.inputs
    problems = source_problems(i.osm, i.place, i.units, i.admin_level, source=source)
    files = {key: path for key, path in plan_files(config).items() if key != "catalog"}
    problems += _file_problems(files, source)  # the catalog: below
    try:
        catalog = load_catalog(config.catalog)
    except CatalogError as exc:
        problems.extend(exc.problems)
        return problems
    named = [(f"placement.{n}.category", p.category) for n, p in enumerate(config.placement)]
    named += [("outputs.map_category", config.outputs.map_category)]
    named += [
        (f"inputs.facilities.{n}.replaces", c)
        for n, f in enumerate(i.facilities)
        for c in f.replaces or []
    ]
    problems += category_problems(catalog, named, source)
    return problems + profile_problems(catalog, config.params(), source)


def load_plan(path: str | Path) -> PlanConfig:
    """Read and validate a plan file."""
    p = Path(path).expanduser()
    if not p.is_file():
        kind = "plan_is_folder" if p.is_dir() else "plan_not_found"
        raise PlanFileError(Problem.of(kind, str(path)))
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PlanFileError(Problem.of("plan_not_toml", str(path), error=str(exc))) from None
    except UnicodeDecodeError:
        raise PlanFileError(Problem.of("plan_not_utf8", str(path))) from None
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
# age_cols = { "3-5" = "3-5岁", "60+" = "60岁及以上" }   # age groups (columns age_3_5... need none)

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
# replaces = ["kindergarten"]  # with mode = "replace": also categories the file has no row of

# [[inputs.facilities]]        # an Amap or Baidu POI export: read as it is (GCJ-02 / BD-09,
# path = "amap_export.xlsx"    # type codes or tags mapped to the catalog's categories; the
# strict = false               # report's POI audit lists them); true: unmapped codes are errors

# [inputs.population]          # residents from your own points or polygons instead of buildings
# path = "population.gpkg"
# population_col = "人口"

# [inputs.population_grid]     # or a GeoTIFF of people per cell (WorldPop, GHS-POP, your own)
# path = "worldpop_2020.tif"

# [inputs.compounds]           # your own gated compounds (小区, 大院), instead of OSM's areas
# path = "compounds.gpkg"
# name_col = "小区名称"
# gated_col = "封闭"            # yes / no (是 / 否)
# households_col = "户数"       # households: residents = 户数 x persons_per_household

# [inputs.buildings]           # your own footprints, replacing OSM's inside their extent
# path = "buildings.gpkg"      # (the convex hull of the footprints)
# floors_col = "层数"           # detected when omitted (层数, 楼层, floors, levels)
# use_col = "用途"              # 住宅, 宿舍, 公寓... are homes; 商业, 办公... are not
# households_col = "户数"       # optional: residents = 户数 x persons_per_household
# uses = "building_uses.toml"  # your own use words, on top of lifecircle's

[inputs.candidates]            # where new facilities may go
# path = "parcels.gpkg"        # your available sites or parcels; else points on the walk network
spacing_m = 100

[residents]
floor_area_m2_per_person = 33
storey_height_m = 3
default_floors = 6
generic_use = "residential"    # what a bare building=yes is taken to be (or exclude)
persons_per_household = 2.31   # Beijing, 2020 census; for 户数 in compounds or buildings

[analysis]
speed_kmh = 4.0
search_factor = 3.0            # report distances up to 3 x each category's threshold
max_snap_m = 250
unit_share = 0.5               # a unit is covered when this share of its residents is
time_limit_s = 60              # for the placement solver
catchments = true              # walking catchment polygons for the map (false saves time)
compounds = "auto"             # gated compounds: walked by members and visitors, not through;
                               # auto = gated in mainland China, or "gated" / "open"
# parts = "district"           # analyse in parts: by a column of the units, or a number of
                               # groups of neighbouring units (the README's "Whole cities")
# rollup = "街道"               # a column of the units: supply versus need summed by it too
profile = "auto"               # walking profile: auto = the catalog's (elderly categories walk
                               # "elderly") in mainland China; "catalog", or a profile's name
# [analysis.category_profiles]   # per category: the profile its residents walk on
# health_station = "elderly"

# [profiles.elderly]           # change a walking profile, or define one: distances are then
# speed_m_s = 1.0              # effective walking metres (a metre at the plan's speed_kmh)
# steps_factor = 1.0           # cost per metre of steps, footbridges, underpasses (no
# footbridge_factor = 1.0      # published factor was found: 1.0 unless you set one)
# underpass_factor = 1.0

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
