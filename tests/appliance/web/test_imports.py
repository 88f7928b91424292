"""No import cycle runs through the station UI, its doctor check or the shared web pieces:
the app factory imports the blueprints, never the other way round (function-local imports
count)."""

from __future__ import annotations

from tests.websecurity.imports import cycles, import_graph


def _ours(module: str) -> bool:
    return module.startswith(("appliance.web", "websecurity")) or module == "appliance.doctor"


def test_no_cycle_through_the_web_ui():
    graph = import_graph()
    assert {"appliance.web.app", "appliance.web.auth", "appliance.doctor"} <= set(graph)
    assert "appliance.web.auth" in graph["appliance.web.app"]
    assert [c for c in cycles(graph) if any(map(_ours, c))] == []


def test_no_view_imports_the_app_factory():
    graph = import_graph()
    importers = {m for m, targets in graph.items() if "appliance.web.app" in targets}
    assert importers <= {"appliance.compose"}, importers
