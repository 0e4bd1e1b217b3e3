"""Many plans (cities, districts, scenarios) as tasks on a Dask cluster.

A batch file lists plans; each runs as one Dask task and writes its own output folder
``OUT/<name>``; ``OUT/batch-summary.csv`` collects each plan's status, error and headline
figures. A plan that fails is reported with its error and the others go on. Rerunning a
batch skips every plan whose folder holds a complete run (``run.json`` says done, every
output it lists is there) of the same plan on files with the same SHA-256.

The batch file (TOML; relative paths are from its folder)::

    [batch]
    out = "runs"                  # where the plans' folders go (or --out)

    [defaults]                    # merged into every plan (a plan's own keys win;
                                  # paths here and in ``set`` are from the plan's folder)
    outputs = { formats = ["csv", "xlsx"], offline = true }

    [[plan]]
    name = "haidian"              # the output folder's name
    plan = "haidian.toml"         # a plan file, as `lifecircle plan` reads it

    [[plan]]
    name = "haidian-slow-walk"    # a scenario: the same plan with some keys changed
    plan = "haidian.toml"
    set = { analysis = { speed_kmh = 3.2 } }
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lifecircle.config import PlanConfig, load_plan, plan_files, plan_from_dict
from lifecircle.errors import InternalError, LifecircleError, PlanFileError, Problem
from lifecircle.i18n import LANGS
from lifecircle.report.folder import RUN_FILE
from lifecircle.report.provenance import input_hashes
from lifecircle.report.tables import write_csv
from lifecircle.result import PlanResult

__all__ = ["SUMMARY_FILE", "BatchPlan", "load_batch", "run_batch", "run_one"]

SUMMARY_FILE = "batch-summary.csv"
_NAME = re.compile(r"^[\w][\w.\- ]*$")


@dataclass
class BatchPlan:
    """One plan of a batch: its validated plan document, or why it could not be read."""

    name: str
    out: Path
    doc: dict[str, Any] | None
    error: str | None = None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_batch(path: str | Path, *, out: str | Path | None = None) -> tuple[list[BatchPlan], Path]:
    """Read a batch file: its plans (each validated, or carrying its error) and the folder
    their outputs go to.

    Parameters
    ----------
    path
        The batch file (TOML: ``[batch]``, ``[defaults]``, ``[[plan]]``).
    out
        The folder of the plans' folders (else the batch file's ``[batch] out``, relative
        to the batch file).

    Returns
    -------
    (plans, folder)
        The plans in the file's order and the absolute output folder.

    Raises
    ------
    PlanFileError
        When the batch file itself cannot be used (not found, not TOML, no plans, plans
        without a name or plan file, repeated names, no output folder).
    """
    p = Path(path).expanduser()
    doc = _read_batch_file(p, str(path))
    entries = doc.get("plan", [])
    folder = out or doc.get("batch", {}).get("out")
    problems = _batch_problems(doc, str(path), folder is None) + _entry_problems(entries, str(path))
    if problems:
        raise PlanFileError(problems)
    base = p.parent.resolve()
    out_dir = Path(folder).expanduser()
    out_dir = out_dir if out_dir.is_absolute() or out is not None else base / out_dir
    defaults = doc.get("defaults", {})
    plans = [_batch_plan(entry, base, out_dir, defaults) for entry in entries]
    return plans, out_dir.absolute()


def _read_batch_file(p: Path, shown: str) -> dict[str, Any]:
    if not p.is_file():
        raise PlanFileError(Problem.of("batch_not_found", shown))
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PlanFileError(Problem.of("batch_not_toml", shown, error=str(exc))) from None


def _batch_problems(doc: dict[str, Any], source: str, no_folder: bool) -> list[Problem]:
    """What is wrong with the batch file's tables."""
    problems = []
    unknown = set(doc) - {"batch", "defaults", "plan"}
    if unknown:
        problems.append(
            Problem.of("batch_unknown_table", source, tables=", ".join(sorted(unknown)))
        )
    if no_folder:
        problems.append(Problem.of("batch_no_folder", source))
    if not doc.get("plan", []):
        problems.append(Problem.of("batch_no_plans", source))
    return problems


def _entry_problems(entries: list[Any], source: str) -> list[Problem]:
    """What is wrong with the ``[[plan]]`` entries: names, plan files, unknown keys."""
    problems = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        where = ("plan", n + 1)
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(Problem.of("batch_bad_name", source, place=where, name=repr(name)))
        elif name in seen:
            problems.append(Problem.of("batch_same_name", source, place=where, name=name))
        else:
            seen.add(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("plan"), str):
            problems.append(Problem.of("batch_no_plan_file", source, place=where))
        extra = set(entry) - {"name", "plan", "set"} if isinstance(entry, dict) else set()
        if extra:
            keys = ", ".join(sorted(extra))
            problems.append(Problem.of("batch_unknown_key", source, place=where, keys=keys))
    return problems


def _batch_plan(
    entry: dict[str, Any], base: Path, out_dir: Path, defaults: dict[str, Any]
) -> BatchPlan:
    """One entry's plan: its file merged over the defaults, with its ``set`` overrides."""
    plan_path = Path(entry["plan"]).expanduser()
    plan_path = plan_path if plan_path.is_absolute() else base / plan_path
    target = out_dir / entry["name"]
    try:
        load_plan(plan_path)  # the plan file on its own is readable and valid
        raw = tomllib.loads(plan_path.read_text(encoding="utf-8"))
        merged = _merge(_merge(defaults, raw), entry.get("set", {}))
        config = plan_from_dict(
            merged, source=f"{plan_path} ({entry['name']})", base=plan_path.parent
        )
        return BatchPlan(entry["name"], target, config.model_dump(mode="json"))
    except LifecircleError as exc:  # in the plan's language
        lang = _lang_of(plan_path, defaults, entry.get("set", {}))
        return BatchPlan(entry["name"], target, None, error=exc.text(lang))


def _lang_of(plan_path: Path, defaults: dict[str, Any], overrides: dict[str, Any]) -> str:
    """The ``[outputs] lang`` a plan asks for ("en" when it cannot be read)."""
    try:
        raw = tomllib.loads(plan_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    outputs = _merge(_merge(defaults, raw), overrides).get("outputs")
    lang = outputs.get("lang") if isinstance(outputs, dict) else None
    return lang if lang in LANGS else "en"


def is_current(plan: BatchPlan) -> bool:
    """Whether ``plan.out`` holds a complete run of this very plan on unchanged files."""
    if plan.doc is None:
        return False
    try:
        record = json.loads((plan.out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if record.get("tool") != "lifecircle" or record.get("status") != "done":
        return False
    if not all((plan.out / name).is_file() for name in record.get("outputs", [])):
        return False
    if record.get("plan") != json.loads(json.dumps(plan.doc, ensure_ascii=False)):
        return False
    files = plan_files(PlanConfig.model_validate(plan.doc))
    return bool(record.get("input_files") == input_hashes(files))


def headline(result: PlanResult) -> dict[str, Any]:
    """The figures a batch summary shows of a run."""
    overall = result.coverage.overall
    req = [c for c in overall["category"] if result.area.catalog[c].required]
    rows = overall.loc[overall["category"].isin(req or list(overall["category"]))]
    worst = rows.sort_values("share").iloc[0] if len(rows) else None
    complete = result.coverage.completeness_overall
    all_row = complete.loc[complete["level"] == "all", "share_complete"]
    out: dict[str, Any] = {
        "units": len(result.area.units),
        "residents": round(float(result.area.demand["residents"].sum())),
        "facilities": len(result.area.facilities),
        "share_all_services": float(all_row.iloc[0]) if len(all_row) else None,
        "lowest_category": None if worst is None else worst["category"],
        "lowest_share": None if worst is None else float(worst["share"]),
        "new_sites": sum(len(r.sites) for r in result.sites.values()),
        "newly_covered": float(sum(r.sites["new_residents"].sum() for r in result.sites.values())),
    }
    for _, row in overall.iterrows():
        out[f"share_{row['category']}"] = float(row["share"])
    return out


def run_one(name: str, doc: dict[str, Any], out: str) -> dict[str, Any]:
    """Run one plan into ``out`` (a Dask task): its summary row, never an exception.

    Parameters
    ----------
    name
        The plan's name in the batch.
    doc
        The validated plan document.
    out
        Its output folder.

    Returns
    -------
    dict
        The summary row: ``plan``, ``status`` (``done`` or ``failed``), ``error``, ``out``,
        ``seconds`` and the headline figures of a done plan.
    """
    logging.getLogger("lifecircle").setLevel(logging.WARNING)
    started = time.perf_counter()
    row: dict[str, Any] = {"plan": name, "status": "done", "error": "", "out": out}
    try:
        config = plan_from_dict(doc, source=name)
        result = config.run(out, force=True)
        row.update(headline(result))
    except LifecircleError as exc:  # in the plan's language
        row.update(status="failed", error=exc.text(str(doc.get("outputs", {}).get("lang", "en"))))
    except InternalError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # a plan's failure must not stop the batch
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    row["seconds"] = round(time.perf_counter() - started, 2)
    return row


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, or of a new local cluster of processes
    (``workers`` of them, default: one per core)."""

    import dask
    from dask.distributed import Client, LocalCluster

    if not logging.getLogger("lifecircle").isEnabledFor(logging.DEBUG):
        # the cluster's own start-up and shut-down chatter is not the user's business
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # worker processes
        dask.config.set({"logging.distributed": "warning"})
        logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise LifecircleError(
                Problem.of("scheduler_unreachable", "--scheduler", address=scheduler, error=exc)
            ) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


Report = Callable[[dict[str, Any], int, int], None]


def run_batch(
    plans: list[BatchPlan],
    out: Path,
    *,
    client: Any,
    rerun: bool = False,
    report: Report | None = None,
) -> pd.DataFrame:
    """Run the plans as tasks of ``client``; write and return the batch summary.

    Plans already current (see :func:`is_current`) are skipped unless ``rerun``; plans that
    could not be read are reported failed without running.

    Parameters
    ----------
    plans
        The plans (:func:`load_batch`).
    out
        The folder of the plans' folders; ``batch-summary.csv`` is written there.
    client
        A ``dask.distributed.Client``: each plan is one of its tasks.
    rerun
        Run the plans that are already current too.
    report
        Called as ``report(row, done, total)`` as each plan finishes.

    Returns
    -------
    pandas.DataFrame
        The summary: one row per plan, in the batch file's order.
    """
    from dask.distributed import as_completed

    rows: list[dict[str, Any]] = []
    total = len(plans)

    def finish(row: dict[str, Any]) -> None:
        rows.append(row)
        if report is not None:
            report(row, len(rows), total)

    before: dict[str, dict[str, Any]] = {}
    if (out / SUMMARY_FILE).is_file():
        earlier = pd.read_csv(out / SUMMARY_FILE, encoding="utf-8-sig", keep_default_na=False)
        before = {
            str(r["plan"]): {str(k): v for k, v in r.items()} for r in earlier.to_dict("records")
        }
    futures = {}
    for plan in plans:
        if plan.doc is None:
            finish({"plan": plan.name, "status": "failed", "error": plan.error, "out": ""})
        elif not rerun and is_current(plan):
            row = dict(before.get(plan.name, {}))  # the figures of the run it keeps
            row.update(plan=plan.name, status="skipped", error="", out=str(plan.out))
            finish(row)
        else:
            fut = client.submit(run_one, plan.name, plan.doc, str(plan.out), pure=False)
            futures[fut] = plan
    for fut in as_completed(list(futures)):
        plan = futures[fut]
        try:
            row = fut.result()
        except Exception as exc:  # the worker died, or the task could not run
            row = {"plan": plan.name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        finish(row)
    order = {p.name: i for i, p in enumerate(plans)}
    frame = pd.DataFrame(rows)
    frame = frame.sort_values("plan", key=lambda s: s.map(order)).reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{SUMMARY_FILE}.partial"
    write_csv(frame, tmp)
    tmp.replace(out / SUMMARY_FILE)
    return frame
