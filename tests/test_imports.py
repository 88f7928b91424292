"""The import rules of docs/design.md, checked on every import statement in the tree.

Every ``import`` and ``from ... import`` is parsed (function-local ones included, since a lazy
import is still a dependency), resolved to a module of this project, and checked against two
rules: which package may import which, and no cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: package -> the other packages of this project it may import.
ALLOWED: dict[str, set[str]] = {
    "capture": set(),
    "barcode": set(),
    "documents": set(),
    "sync": set(),
    "websecurity": {"sync"},
    "practice": {"sync", "barcode", "websecurity"},
    "appliance": {"capture", "barcode", "documents", "sync", "websecurity"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules() -> dict[str, Path]:
    modules = {}
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[_module_name(path)] = path
    return modules


MODULES = _project_modules()


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (itself, or the nearest enclosing one)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Every project module that ``module`` imports, wherever in the file the import stands."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from pkg import sub` imports the submodule when there is one.
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES
                       else prefix for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_package_imports_only_what_the_rules_allow():
    violations = []
    for module, targets in GRAPH.items():
        package = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                violations.append(f"{module} imports {target}")
    assert not violations, "import rule violations:\n" + "\n".join(violations)


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return components


def test_no_module_cycles():
    cycles = _cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_web_view_imports_the_app_factory():
    """Flask flaskr style: the factory imports the blueprints, never the other way round."""
    assert "appliance.web.admin" in GRAPH["appliance.web.app"]
    importers = {m for m, targets in GRAPH.items() if "appliance.web.app" in targets}
    assert importers <= {"appliance.compose"}, importers


def test_the_cycle_finder_finds_a_cycle(monkeypatch):
    monkeypatch.setattr(__import__(__name__, fromlist=["GRAPH"]), "GRAPH",
                        {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()})
    assert _cycles() == [["a", "b", "c"]]


@pytest.mark.parametrize("source, expected", [
    ("from .errors import X", {"sync.errors"}),
    ("import sync.protocol", {"sync.protocol"}),
    ("def f():\n    from appliance.vault import Vault\n", {"appliance.vault"}),
])
def test_the_parser_sees_relative_absolute_and_local_imports(tmp_path, monkeypatch, source,
                                                             expected):
    """The checker itself: each import form resolves to the module it names."""
    fake = {"sync.envelope": tmp_path / "envelope.py", "sync.errors": tmp_path / "errors.py",
            "sync.protocol": tmp_path / "protocol.py", "appliance.vault": tmp_path / "v.py"}
    fake["sync.envelope"].write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["MODULES"]), "MODULES", fake)
    assert imports_of("sync.envelope") == expected
