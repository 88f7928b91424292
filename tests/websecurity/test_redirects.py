"""``next`` after sign-in: local paths only, and nothing that could end a header."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from websecurity.redirects import safe_next, unsafe_next


@pytest.mark.parametrize("target", ["/", "/review?page=2", "/captures/abc", "/é"])
def test_local_paths_are_kept(target):
    assert safe_next(target) == target and not unsafe_next(target)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil",
                                    "evil", "", None, "/\r\nX: 1", "/\nX", "/a\x00",
                                    "/\x7f", "/\x85", "/\u202eevil", "/\u2028"])
def test_anything_else_goes_to_the_default(target):
    assert safe_next(target, "/home") == "/home"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_whatever_is_kept_is_a_local_printable_path(target):
    kept = safe_next("/" + target, "DEFAULT")
    assert kept == "DEFAULT" or (kept.startswith("/") and not kept.startswith("//")
                                 and all(ch.isprintable() for ch in kept))
