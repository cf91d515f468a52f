"""The layering of the project's packages, read from every module's imports.

Every ``import`` counts, at the top of a module and inside functions (a deferred import
is still a dependency). The rules:

- ``systems/`` import the standard library, the node API and ``systems`` packages (their
  own; Kafka also builds its ZooKeeper from ``systems.zab``), nothing else. The node API
  is ``harness.node`` (effects, inputs, ``Node``), the setting types of ``harness.schema``
  and, from ``harness.system``, only ``NodeContext``, ``SystemSpec`` and ``BugInfo``: a
  system is built by the harness and never reaches into it (the registry, the runner,
  the checkers).
- ``checkers/`` read histories, traces and fault logs handed to them: they never import
  the runner, the system registry, a system or ``reports/``.
- ``reports/`` read run directories: they never import the runner, the campaign or the
  shrinker, and the run path (simulate, check, store) never imports ``reports/``.
- No import cycles among the project's modules.
"""

from __future__ import annotations

import ast
import pathlib
import sys

import networkx as nx

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "systems", "checkers", "workloads", "reports")

#: what a system may take from harness.system (harness.node: anything)
NODE_API_NAMES = {"NodeContext", "SystemSpec", "BugInfo"}
#: modules a system may import whole: the node API, and harness.schema, the types a system
#: declares its settings with (issue 12's validation; absent until that work lands)
NODE_API_MODULES = ("harness.node", "harness.schema")
#: the campaign: its command and the modules that plan and run its runs (reading an index,
#: ``harness.campaign_index``, or a run's swarm draw, ``harness.swarm``, is not running one)
CAMPAIGN = ("harness.campaign", "harness.campaign_params", "harness.campaign_run", "harness.campaign_exec",
            "harness.guided", "harness.guided_campaign", "harness.guided_corpus", "harness.remote")

def _modules() -> dict[str, pathlib.Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(module: str, path: pathlib.Path) -> list[tuple[str, str | None, int]]:
    """(module imported, name imported from it or None, line) for every import."""
    out: list[tuple[str, str | None, int]] = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.extend((a.name, None, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                # ``from harness import plugins`` imports the module harness.plugins
                sub = f"{target}.{a.name}"
                out.append((sub, None, node.lineno) if sub in MODULES else (target, a.name, node.lineno))
    return out


def _project_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


IMPORTS = {m: _imports(m, p) for m, p in MODULES.items()}


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(MODULES)
    for m, imps in IMPORTS.items():
        for target, _, _ in imps:
            dep = _project_module(target)
            if dep is not None and dep != m:
                g.add_edge(m, dep)
    return g


def _offenders(prefix: str, allowed) -> list[str]:
    return [f"{m}:{line} imports {t}{'.' + n if n else ''}"
            for m, imps in IMPORTS.items() if m == prefix or m.startswith(prefix + ".")
            for t, n, line in imps if not allowed(m, t, n)]


def _in(name: str, *roots: str) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def test_the_import_reader_sees_deferred_imports() -> None:
    # a deferred import (inside a function) is found: checks.py imports its checkers so
    deps = set(_graph().successors("harness.checks"))
    assert {"checkers.quorum", "checkers.mutex", "harness.system"} <= deps
    assert "systems.zab.recipes" in set(_graph().successors("workloads.election"))


def test_systems_import_only_the_node_api() -> None:
    def allowed(module: str, target: str, name: str | None) -> bool:
        top = target.split(".")[0]
        if _in(target, "systems", *NODE_API_MODULES):
            return True
        if target == "harness.system":
            return name in NODE_API_NAMES
        return top == "__future__" or (top in sys.stdlib_module_names and top not in PACKAGES)

    assert _offenders("systems", allowed) == []


def test_the_example_system_imports_only_the_node_api() -> None:
    # examples/pbregister is held to the rule of systems/, with its own package in place
    # of systems (and it is sans-IO, like them)
    banned = {"socket", "time", "random", "threading", "asyncio"}
    pkg = ROOT / "examples" / "pbregister" / "pbregister"
    bad = []
    for path in sorted(pkg.glob("*.py")):
        for target, name, line in _imports(f"pbregister.{path.stem}", path):
            top = target.split(".")[0]
            ok = (_in(target, "pbregister", *NODE_API_MODULES)
                  or (target == "harness.system" and name in NODE_API_NAMES) or top == "__future__"
                  or (top in sys.stdlib_module_names and top not in banned))
            if not ok:
                bad.append(f"{path.name}:{line} imports {target}{'.' + name if name else ''}")
    assert len(list(pkg.glob("*.py"))) >= 4 and bad == []


def test_checkers_never_import_the_runner_a_system_or_reports() -> None:
    def allowed(module: str, target: str, name: str | None) -> bool:
        return not _in(target, "harness.runner", "harness.system", "harness.checks", *CAMPAIGN,
                       "harness.shrink", "harness.cli", "systems", "reports")

    assert _offenders("checkers", allowed) == []


def test_the_run_path_never_imports_reports() -> None:
    def allowed(module: str, target: str, name: str | None) -> bool:
        return not _in(target, "reports")

    for module in ("harness.runner", "harness.sim", "harness.checks", "harness.store", "harness.nemesis",
                   "harness.clients", "harness.system", "harness.config"):
        assert _offenders(module, allowed) == []


def test_reports_never_import_the_runner_campaign_or_shrinker() -> None:
    def allowed(module: str, target: str, name: str | None) -> bool:
        return not _in(target, "harness.runner", *CAMPAIGN, "harness.shrink")

    assert _offenders("reports", allowed) == []


def test_no_import_cycles() -> None:
    cycles = sorted(sorted(c) for c in nx.simple_cycles(_graph()))
    assert cycles == []
