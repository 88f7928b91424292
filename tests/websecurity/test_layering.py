"""websecurity is shared by both programs, so it may lean on sync and nothing else of ours."""

from __future__ import annotations

from .imports import cycles, external_imports


def test_websecurity_imports_only_sync_of_the_project():
    imports = external_imports("websecurity")
    assert "websecurity.https_server" in imports and "websecurity.accounts" in imports
    offending = {m: tops - {"websecurity", "sync"} for m, tops in imports.items()
                 if tops - {"websecurity", "sync"}}
    assert offending == {}


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
