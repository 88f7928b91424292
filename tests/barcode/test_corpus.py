"""Both decoders, every supported symbology, 640x480 and 1920x1080 preview frames.

Each corpus frame is decoded and interpreted exactly as the station does (``read_frame``), and
must yield exactly the expected results: no missed symbol, no extra one, no wrong role.
"""

import pytest

from barcode.reader import build_reader

from .corpus import BACKEND_SYMBOLOGIES, LOCAL_FORMATS, all_cases, frame

SITES = ["arm", "leg"]
PAIRS = [(backend, case) for case in all_cases() for backend in BACKEND_SYMBOLOGIES
         if case.readable_by(backend)]


@pytest.fixture(scope="module")
def readers():
    return {b: build_reader({"backends": [b], "local_formats": LOCAL_FORMATS}, SITES)
            for b in BACKEND_SYMBOLOGIES}


@pytest.mark.parametrize(("backend", "case"), PAIRS, ids=[f"{b}-{c.name}" for b, c in PAIRS])
def test_corpus_frame_reads_as_expected(readers, backend, case):
    results = [r.as_json() for r in readers[backend].read_frame(frame(case))]
    assert len(results) == len(case.expected), [r["role"] for r in results]
    for expected in case.expected:
        assert any(expected.matches(r) for r in results), (expected, results)
    for result in results:
        assert result["symbology"] in case.symbologies
        if result["role"] == "invalid":
            assert result["error"]
        else:
            assert result["error"] is None


def test_corpus_covers_every_symbology_size_and_backend():
    covered = {(b, s, c.size) for b, c in PAIRS for s in c.symbologies}
    for backend, symbologies in BACKEND_SYMBOLOGIES.items():
        for symbology in symbologies:
            for size in ("640", "1080"):
                assert (backend, symbology, size) in covered


def test_gs1_flag_reported_by_zxing_and_inferred_for_zbar(readers):
    case = next(c for c in all_cases() if c.name == "code128-plain-640")
    zx = readers["zxing-cpp"].backend.decode(frame(case))
    zb = readers["pyzbar"].backend.decode(frame(case))
    assert [(s.gs1, s.symbology_id) for s in zx] == [(True, "]C1")]
    assert [s.gs1 for s in zb] == [None]
    # Both end as the same GS1 patient.
    assert readers["zxing-cpp"].read_frame(frame(case))[0].identity == \
        readers["pyzbar"].read_frame(frame(case))[0].identity


def test_local_formats_are_off_without_config():
    """With the default config a plain Code 128 MRN band is 'unknown', never a patient."""
    reader = build_reader({"backends": ["zxing-cpp"]})
    case = next(c for c in all_cases() if c.name == "local-mrn-code128")
    assert [r.role for r in reader.read_frame(frame(case))] == ["unknown"]
