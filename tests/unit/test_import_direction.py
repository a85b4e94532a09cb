"""Every import points down the data flow: a test over the import graph of chaos/ (module-level,
function-level and type-only imports alike), so an arrow running up fails here before it lands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CHAOS = Path(__file__).resolve().parents[2] / "chaos"

#: (importer prefix, imported prefix, why it must not): the layers, top to bottom, are the entry points
#: (cli, pytest plugin, jobs), the runner, the reports and history, the run's result, the plan, then what
#: a run is made of (injectors, oracles, load, platforms, configs).
FORBIDDEN = [
    ("chaos.report", "chaos.runner", "reports read chaos.run_result, below the runner"),
    ("chaos.report", "chaos.cli", "the CLI calls the reports, not the other way"),
    ("chaos.run_result", "chaos.runner", "the result sits below the runner"),
    ("chaos.run_result", "chaos.report", "the result sits below the reports"),
    ("chaos.runner", "chaos.cli", "the CLI calls the runner"),
    ("chaos.runner", "chaos.report", "the runner returns a result; reports are written by its callers"),
    ("chaos.plan", "chaos.runner", "the runner follows a plan"),
    ("chaos.injectors", "chaos.oracles", "injectors and oracles never import each other (the timeline joins them)"),
    ("chaos.oracles", "chaos.injectors", "injectors and oracles never import each other (the timeline joins them)"),
    ("chaos.injectors", "chaos.runner", "the runner calls injectors"),
    ("chaos.oracles", "chaos.runner", "the runner calls oracles"),
    ("chaos.platform", "chaos.runner", "the runner opens platforms"),
    ("chaos.platform", "chaos.injectors", "injectors act through platforms"),
    ("chaos.platform", "chaos.oracles", "oracles read what platforms recorded"),
    ("chaos.load", "chaos.runner", "the runner starts the load"),
    ("chaos.load", "chaos.injectors", "the load knows nothing of faults"),
    ("chaos.configs", "chaos.injectors", "config editing is below the storm that uses it"),
    ("chaos.configs", "chaos.platform", "config editing knows nothing of where targets run"),
    ("chaos.", "chaos.cli", "only the entry point is the CLI"),
    ("chaos.", "chaos.jobs", "only the CLI runs members side by side"),
    ("chaos.state", "chaos.platform", "the ledger names no platform: platforms register their kinds with it"),
    ("chaos.load", "chaos.platform", "the load reaches its ports through chaos.ports, below both"),
    ("chaos.platform.kubernetes.cluster", "chaos.platform.kubernetes.workloads",
     "the cluster's plumbing sits below what the suite deploys on it"),
    ("chaos.platform.kubernetes.cluster", "chaos.platform.kubernetes.deployed",
     "the cluster's plumbing sits below the services a team deployed"),
    ("chaos.platform.kubernetes.workloads", "chaos.platform.kubernetes.deployed",
     "what the suite deploys and what a team deployed never import each other"),
    ("chaos.platform.kubernetes.deployed", "chaos.platform.kubernetes.workloads",
     "what the suite deploys and what a team deployed never import each other"),
]
#: Importers a rule allows: the entry point above everything.
ALLOWED = {"chaos.jobs": ("chaos.cli",)}


def module_name(path: Path) -> str:
    parts = path.relative_to(CHAOS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every chaos module `path` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "chaos" or name.startswith("chaos.")}


def within(name: str, prefix: str) -> bool:
    return name.startswith(prefix) if prefix.endswith(".") else name == prefix or name.startswith(prefix + ".")


GRAPH = {module_name(p): imports_of(p) for p in sorted(CHAOS.rglob("*.py"))}


@pytest.mark.parametrize(("importer", "imported", "why"), FORBIDDEN, ids=[f"{a}->{b}" for a, b, _ in FORBIDDEN])
def test_no_import_runs_up(importer: str, imported: str, why: str) -> None:
    exempt = {imported, *ALLOWED.get(imported, ())}  # a package may import its own members
    found = sorted(f"{module} imports {target}" for module, targets in GRAPH.items() if within(module, importer)
                   and module not in exempt and not within(module, imported)
                   for target in targets if within(target, imported))
    assert not found, f"{why}: " + "; ".join(found)


def test_the_graph_is_read() -> None:
    """The rules above would pass on an empty graph: prove the scan sees known arrows."""
    assert "chaos.run_result" in GRAPH["chaos.runner"]
    assert "chaos.injectors.base" in GRAPH["chaos.runner"]
    assert any(within(t, "chaos.run_result") for t in GRAPH["chaos.report.json_report"])


def test_no_platform_name_is_compared_as_a_string_outside_its_package() -> None:
    """A platform is known by its kind (chaos.platform.kinds); only its own package may name it."""
    names = {"local", "kubernetes"}
    found = []
    for path in sorted(CHAOS.rglob("*.py")):
        module = module_name(path)
        if any(within(module, own) for own in ("chaos.platform.local", "chaos.platform.kubernetes")):
            continue
        if within(module, "chaos.load"):  # Locust's runner roles (local, master, worker): not platforms
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Constant) and side.value in names for side in (node.left, *node.comparators)):
                found.append(f"{module}:{node.lineno}")
    assert not found, "platform names compared as strings: " + ", ".join(found)


def uncommented_function_imports(source: str) -> list[int]:
    """Lines of imports inside functions that say nothing of why: no comment on the import, nor on the line
    above the block of imports it belongs to."""
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if any("#" in lines[i] for i in range(node.lineno - 1, node.end_lineno or node.lineno)):
                continue
            above = node.lineno - 2
            while above >= 0 and (lines[above].strip().startswith(("import ", "from ")) or lines[above].strip() == ")"
                                  or lines[above].strip().endswith(",")):
                above -= 1
            if above < 0 or not lines[above].strip().startswith("#"):
                found.append(node.lineno)
    return found


def test_every_function_level_import_says_why() -> None:
    """Imports belong at the top; one inside a function defers something (a slow or optional dependency, the
    suite behind a command or the pytest plugin) and says so in a comment."""
    found = [f"{module_name(path)}:{line}" for path in sorted(CHAOS.rglob("*.py"))
             for line in uncommented_function_imports(path.read_text(encoding="utf-8"))]
    assert not found, "function-level imports with no comment saying why: " + ", ".join(found)


def test_an_uncommented_function_import_is_found() -> None:
    source = ("def f():\n    import json\n    return json\n\n"
              "def g():\n    # deferred: slow\n    import csv\n    from os import path\n    return csv, path\n")
    assert uncommented_function_imports(source) == [2]
