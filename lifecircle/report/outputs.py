"""Writing a run's outputs: each chosen format into the folder, then ``run.json``.

The folder itself (checked, temporary, moved into place) is :mod:`lifecircle.report.folder`;
the content of ``run.json`` is :mod:`lifecircle.report.provenance`; the CSV tables are
:mod:`lifecircle.report.tables`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from lifecircle.maps.basemaps import base_map
from lifecircle.maps.coverage_map import coverage_map, map_html, tiles_reachable
from lifecircle.params import DEFAULT_FORMATS, OutputOptions
from lifecircle.report.folder import RUN_FILE
from lifecircle.report.gpkg import write_gpkg
from lifecircle.report.html import write_html
from lifecircle.report.provenance import run_record
from lifecircle.report.tables import csv_tables, localized, write_csv
from lifecircle.report.xlsx import write_xlsx
from lifecircle.result import PlanResult

__all__ = ["FORMATS", "write_outputs"]

FORMATS = DEFAULT_FORMATS
"""The outputs a run can write besides ``run.json`` (which it always writes)."""

_FILES = {"xlsx": "report.xlsx", "gpkg": "results.gpkg", "html": "report.html"}


class _Steps:
    """Tells ``step(done, total)`` of each output written."""

    def __init__(self, formats: tuple[str, ...], step: Callable[[int, int], None] | None):
        parts = {"csv", "xlsx", "gpkg", "html"} & set(formats)
        self.total = len(parts) + ("map" in formats or "html" in formats)
        self.count = 0
        self.step = step

    def done(self) -> None:
        self.count += 1
        if self.step is not None:
            self.step(self.count, self.total)


class _Laps:
    """Each output's own time, as ``outputs.<format>``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.restart()

    def restart(self) -> None:
        self.clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[f"outputs.{name}"] = round(now - self.clock, 3)
        self.clock = now


def _write_tables(result: PlanResult, folder: Path, lang: str) -> list[Path]:
    """The CSV tables, headers in ``lang``; return their paths."""
    written: list[Path] = []
    for name, frame in csv_tables(result).items():
        table, headers = localized(frame, name, result.area.catalog, lang)
        write_csv(table, folder / name, headers)
        written.append(folder / name)
    return written


def _map_page(result: PlanResult, options: OutputOptions) -> str:
    """The map as one HTML page; offline (no tiles) when asked, or when not told and the
    chosen tile server does not answer."""
    opts = options.map
    offline = options.offline
    if offline is None:
        chosen = base_map(opts.tiles)
        offline = chosen is None or not tiles_reachable(
            urlparse(chosen.url).netloc.replace("{s}", "a")
        )
    return map_html(
        coverage_map(
            result,
            lang=options.lang,
            offline=offline,
            category=opts.category,
            measure=opts.measure,
            level=opts.level,
            tiles=opts.tiles,
        )
    )


def _write_run_file(record: dict[str, Any], folder: Path) -> Path:
    path = folder / RUN_FILE
    path.write_text(
        json.dumps(record, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
    )
    return path


def write_outputs(
    result: PlanResult,
    folder: Path,
    *,
    options: OutputOptions | None = None,
    command: str = "plan",
    plan_doc: Mapping[str, Any] | None = None,
    input_files: Mapping[str, str] | None = None,
    step: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write the chosen ``formats`` and ``run.json`` into ``folder``; return the files.

    ``map`` is ``map.html``; ``csv`` the main tables as CSV (UTF-8 with a byte-order mark);
    ``xlsx`` is ``report.xlsx``; ``gpkg`` is ``results.gpkg``; ``html`` is ``report.html``
    (with the map embedded). ``step(done, total)`` is told of each output written;
    ``run.json``'s ``timings_s`` gets ``outputs`` and each output's ``outputs.<format>``.

    Parameters
    ----------
    result
        The run's result.
    folder
        Where to write (the run's temporary folder).
    options
        Language, formats, map and base map of the outputs.
    command, plan_doc, input_files
        What ran, the plan file's content and the files it reads, for ``run.json``.
    step
        Told ``(done, total)`` after each output.

    Returns
    -------
    list[Path]
        The files written, ``run.json`` last.
    """
    options = options or OutputOptions()
    lang, formats = options.lang, options.formats
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown output formats {unknown}: use some of {list(FORMATS)}")
    started = time.perf_counter()
    steps = _Steps(formats, step)
    laps = _Laps()
    written: list[Path] = []
    if "csv" in formats:
        written += _write_tables(result, folder, lang)
        laps("csv")
        steps.done()
    page = ""
    if "map" in formats or "html" in formats:
        page = _map_page(result, options)
        laps("map")
        steps.done()
    if "map" in formats:
        (folder / "map.html").write_text(page, encoding="utf-8")
        written.append(folder / "map.html")
    record = run_record(result, command=command, plan_doc=plan_doc, input_files=input_files)
    laps.restart()
    writers: dict[str, Callable[[Path], object]] = {
        "xlsx": lambda p: write_xlsx(result, p, lang=lang, inputs=record["inputs"]),
        "gpkg": lambda p: write_gpkg(result, p),
        "html": lambda p: write_html(result, p, lang=lang, map_html=page, title=options.title),
    }
    for name, write in writers.items():
        if name in formats:
            write(folder / _FILES[name])
            written.append(folder / _FILES[name])
            laps(name)
            steps.done()
    record["outputs"] = [p.name for p in written]
    record["timings_s"]["outputs"] = round(time.perf_counter() - started, 3)
    record["timings_s"].update(laps.seconds)  # each output's own time (the map page: map)
    written.append(_write_run_file(record, folder))
    return written


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)
