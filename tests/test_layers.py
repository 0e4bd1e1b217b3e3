"""The package's shape, checked on its source: imports run one way (no function-local
import of the package, no cycle, ``TYPE_CHECKING`` imports included), functions stay short
and document their parameters, tests do not lean on the benchmarks, and every entry point
takes the one walking-speed default."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import networkx as nx
import pytest

import lifecircle
from lifecircle.params import DEFAULT_SPEED_KMH

PACKAGE = Path(lifecircle.__file__).parent
TESTS = Path(__file__).parent
MAX_LINES = 80

NOT_YET_SPLIT: frozenset[str] = frozenset()
"""Functions still over 80 lines when this test was written: each is to be split into named
steps (issue 13). The list may only shrink: a function fixed must leave it, and no new one
may join it."""

NOT_YET_DOCUMENTED: frozenset[str] = frozenset()
"""Public functions still without full numpydoc sections when this test was written (issue
13); the list may only shrink."""


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        out[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return out


MODULES = _modules()


def _package_imports(node: ast.AST, module: str) -> list[tuple[str, int]]:
    """The lifecircle modules an import statement names, with its line."""
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against the module's package
            base = module.split(".")[: -node.level] if node.level else []
            names = [".".join([*base, node.module or ""]).rstrip(".")]
        elif node.module:
            names = [node.module]
        # `from lifecircle.geo import osm` names a module too
        names += [f"{names[0]}.{a.name}" for a in node.names if f"{names[0]}.{a.name}" in MODULES]
    return [(n, node.lineno) for n in names if n == "lifecircle" or n.startswith("lifecircle.")]


def _imports_in_functions(tree: ast.Module, module: str) -> list[tuple[str, int]]:
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for node in ast.walk(fn):
                found += _package_imports(node, module)
    return found


def test_no_function_imports_the_package() -> None:
    local = {m: hits for m, tree in MODULES.items() if (hits := _imports_in_functions(tree, m))}
    assert local == {}


def test_no_import_cycle_type_checking_imports_included() -> None:
    graph = nx.DiGraph()
    for module, tree in MODULES.items():
        graph.add_node(module)
        for node in ast.walk(tree):
            for target, _ in _package_imports(node, module):
                while target not in MODULES and "." in target:  # a name inside a module
                    target = target.rsplit(".", 1)[0]
                if target != module and target != "lifecircle":
                    graph.add_edge(module, target)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def _functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    return [
        (module, node)
        for module, tree in MODULES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_no_function_is_longer_than_80_lines() -> None:
    long = {
        f"{module}.{fn.name}": fn.end_lineno - fn.lineno + 1
        for module, fn in _functions()
        if fn.end_lineno is not None and fn.end_lineno - fn.lineno + 1 > MAX_LINES
    }
    assert set(long) - NOT_YET_SPLIT == set(), "split these into named steps"
    assert NOT_YET_SPLIT - set(long) == set(), "now short enough: remove them from NOT_YET_SPLIT"


def _public(module: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    tree = MODULES[module]
    top = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    methods = {
        m.name
        for c in tree.body
        if isinstance(c, ast.ClassDef) and not c.name.startswith("_")
        for m in c.body
        if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    return not fn.name.startswith("_") and (fn.name in top or fn.name in methods)


def _is_command(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A click command: its docstring is the command's help, in click's format."""
    return any("command" in ast.unparse(d) or "group" in ast.unparse(d) for d in fn.decorator_list)


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    names = [p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
    names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
    return [n for n in names if n not in ("self", "cls")]


def test_public_functions_with_three_parameters_document_them() -> None:
    """numpydoc: a ``Parameters`` section naming every parameter, and ``Returns`` (or
    ``Yields``) unless the function returns nothing."""
    missing = {}
    for module, fn in _functions():
        params = _parameters(fn)
        if not _public(module, fn) or len(params) < 3 or _is_command(fn):
            continue
        doc = ast.get_docstring(fn) or ""
        problems = []
        if "Parameters\n----------" not in doc:
            problems.append("no Parameters section")
        else:
            section = doc.split("Parameters\n----------", 1)[1]
            documented = " ".join(
                line.split(":")[0] for line in section.splitlines() if line and line[0] != " "
            ).replace(",", " ")
            undocumented = [
                p for p in params if p not in documented.split() and f"*{p}" not in documented
            ]
            if undocumented:
                problems.append(f"undocumented {undocumented}")
        returns_none = isinstance(fn.returns, ast.Constant) and fn.returns.value is None
        if not returns_none and not any(f"{s}\n-------" in doc for s in ("Returns", "Yields")):
            problems.append("no Returns section")
        if problems:
            missing[f"{module}.{fn.name}"] = problems
    new = {k: v for k, v in missing.items() if k not in NOT_YET_DOCUMENTED}
    assert new == {}
    assert NOT_YET_DOCUMENTED - set(missing) == set(), "documented: remove from NOT_YET_DOCUMENTED"


def test_tests_do_not_import_the_benchmarks() -> None:
    hits = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            hits += [f"{path.name}:{node.lineno}" for n in names if n.split(".")[0] == "benchmarks"]
    assert hits == []


def _speed_defaults() -> dict[str, object]:
    """Every ``speed_kmh`` default of the package's public callables."""
    import importlib

    found: dict[str, object] = {}
    for module in MODULES:
        mod = importlib.import_module(module)
        for name, obj in vars(mod).items():
            if getattr(obj, "__module__", None) != module or name.startswith("_"):
                continue
            targets = [obj]
            if inspect.isclass(obj):
                targets = [getattr(obj, m) for m in vars(obj) if callable(getattr(obj, m, None))]
            for target in targets:
                try:
                    sig = inspect.signature(target)
                except (TypeError, ValueError):
                    continue
                p = sig.parameters.get("speed_kmh")
                if p is not None and p.default is not inspect.Parameter.empty:
                    found[f"{module}.{name}.{getattr(target, '__name__', '')}"] = p.default
    return found


def test_every_entry_point_takes_the_one_walking_speed_default() -> None:
    from click.testing import CliRunner

    from lifecircle.cli import cli
    from lifecircle.config import PlanConfig

    defaults = _speed_defaults()
    assert len(defaults) >= 5  # the access search, the catalog, the study inputs, the params...
    assert {k: v for k, v in defaults.items() if v != DEFAULT_SPEED_KMH} == {}
    assert pytest.approx(4.0) == DEFAULT_SPEED_KMH
    plan = PlanConfig.model_validate({"inputs": {"osm": "x.osm.pbf"}})
    assert plan.params().speed_kmh == DEFAULT_SPEED_KMH
    assert plan.study_inputs().speed_kmh == DEFAULT_SPEED_KMH
    shown = CliRunner().invoke(cli, ["catalog", "show", "gb50180", "--help"]).output
    assert "default: 4.0" in shown
