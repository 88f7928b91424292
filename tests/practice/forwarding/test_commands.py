"""``capture-receiver forward ...`` and ``capture-receiver export ...``."""

from __future__ import annotations

import json

import pydicom

from practice import cli
from practice.forwarding.queue import ForwardQueue

from .helpers import Running, file_photo, write_config


def test_export_dicom_and_fhir_never_overwrite(tmp_path, capsys):
    capture_id, _ = file_photo(tmp_path)
    out = tmp_path / "x.dcm"
    assert cli.main(["export", "--data-dir", str(tmp_path), "--capture", capture_id,
                     "--format", "dicom", "--out", str(out)]) == 0
    assert pydicom.dcmread(out).Modality == "XC"
    assert out.stat().st_mode & 0o777 == 0o600
    assert cli.main(["export", "--data-dir", str(tmp_path), "--capture", capture_id,
                     "--format", "dicom", "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    fhir_out = tmp_path / "x.json"
    assert cli.main(["export", "--data-dir", str(tmp_path), "--capture", capture_id,
                     "--format", "fhir", "--out", str(fhir_out)]) == 0
    assert json.loads(fhir_out.read_text())["resourceType"] == "Media"


def test_export_of_an_unknown_capture_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["export", "--data-dir", str(tmp_path), "--capture",
                     "0195aaaa-0000-7000-8000-000000000000", "--format", "fhir", "--out",
                     str(tmp_path / "o.json")]) == 1
    assert "no filed capture" in capsys.readouterr().err


def test_forward_status_run_and_retry(tmp_path, capsys):
    servers = Running()
    try:
        write_config(tmp_path, {"name": "ehr", "kind": "fhir", "url": f"{servers.url}/fhir"})
        capture_id, jpg = file_photo(tmp_path)
        queue = ForwardQueue(tmp_path)
        queue.enqueue("capture", capture_id, jpg.relative_to(tmp_path))
        queue.close()
        assert cli.main(["forward", "status", "--data-dir", str(tmp_path)]) == 0
        assert "ehr: 1 pending, 0 forwarded, 0 failed" in capsys.readouterr().out
        servers.state.refuse = True
        assert cli.main(["forward", "run", "--once", "--data-dir", str(tmp_path)]) == 1
        capsys.readouterr()
        assert cli.main(["forward", "status", "--data-dir", str(tmp_path)]) == 0
        text = capsys.readouterr().out
        assert "failed" in text and "(FHIR Media: HTTP 400)" in text
        servers.state.refuse = False
        assert cli.main(["forward", "retry", "--data-dir", str(tmp_path), capture_id]) == 0
        assert cli.main(["forward", "run", "--once", "--data-dir", str(tmp_path)]) == 0
        capsys.readouterr()
        assert cli.main(["forward", "status", "--json", "--data-dir", str(tmp_path)]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["counts"]["ehr"]["forwarded"] == 1
    finally:
        servers.stop()


def test_bad_config_is_reported_not_a_traceback(tmp_path, capsys):
    (tmp_path / "forwarding.toml").write_text("[[destination]]\nname = 'x'\nkind = 'fhir'\n"
                                              "url = 'gopher://x'\n")
    assert cli.main(["forward", "status", "--data-dir", str(tmp_path)]) == 1
    assert "https://" in capsys.readouterr().err
