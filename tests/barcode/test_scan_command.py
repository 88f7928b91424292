"""``capture-station scan IMAGE...``: JSON lines per file, clear errors, exit status."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from appliance.cli import main
from capture.fake import Scene, Symbol

from .corpus import BAD_PATIENT, CAREGIVER, ENCOUNTER, LOCAL_MRN, PATIENT, PATIENT_2, Case, frame

NULLS = {"id": None, "issuer": None, "encounter": None, "command": None, "error": None}


def save(tmp_path, name, *symbols, fmt="PNG"):
    path = tmp_path / name
    image = Image.fromarray(frame(Case(name, "640", Scene(symbols=symbols), ())))
    image.save(path, format=fmt)
    return path


@pytest.fixture
def images(tmp_path):
    return {
        "band": save(tmp_path, "band.png", Symbol(
            "datamatrix", f"(8018){PATIENT}(8019){ENCOUNTER}", module_px=6, gs1=True)),
        "two": save(tmp_path, "two.jpg", Symbol("qrcode", f"(8018){PATIENT}", module_px=6,
                                                gs1=True, center=(0.3, 0.5)),
                    Symbol("qrcode", f"(8018){PATIENT_2}", module_px=6, gs1=True,
                           center=(0.75, 0.5)), fmt="JPEG"),
        "empty": save(tmp_path, "empty.png"),
        "badge": save(tmp_path, "badge.png", Symbol("code128", f"(8017){CAREGIVER}",
                                                    module_px=4, gs1=True)),
        "bad": save(tmp_path, "bad.png", Symbol("code128", f"(8018){BAD_PATIENT}", module_px=4,
                                                gs1=True)),
        "mrn": save(tmp_path, "mrn.png", Symbol("code128", f"MRN{LOCAL_MRN}", module_px=4)),
    }


def scan(capsys, *args):
    code = main(["scan", *map(str, args)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_one_json_line_per_file_with_every_key(tmp_path, images, capsys):
    cfg = tmp_path / "station.toml"
    cfg.write_text("")
    code, lines, err = scan(capsys, "--config", cfg, *images.values())
    assert code == 0 and err == ""
    by_name = {line["file"].rsplit("/", 1)[1]: line["results"] for line in lines}
    assert by_name["band.png"] == [{**NULLS, "role": "patient", "id": PATIENT, "issuer": "GS1",
                                    "encounter": ENCOUNTER, "symbology": "datamatrix",
                                    "gs1": True}]
    assert sorted(r["id"] for r in by_name["two.jpg"]) == sorted([PATIENT, PATIENT_2])
    assert by_name["empty.png"] == []
    assert by_name["badge.png"] == [{**NULLS, "role": "caregiver", "id": CAREGIVER,
                                     "issuer": "GS1", "symbology": "code128", "gs1": True}]
    assert by_name["bad.png"] == [{**NULLS, "role": "invalid", "symbology": "code128",
                                   "gs1": True,
                                   "error": "patient GSRN (8018) has a wrong check digit"}]
    # No local formats configured: an MRN band is just a barcode.
    assert by_name["mrn.png"] == [{**NULLS, "role": "unknown", "symbology": "code128",
                                   "gs1": False}]


def test_local_formats_from_config_and_backend_choice(tmp_path, images, capsys):
    cfg = tmp_path / "station.toml"
    cfg.write_text('[[barcode.local_formats]]\nsymbology = "code128"\n'
                   "pattern = '^MRN(?P<id>\\d{8})$'\nissuer = \"ST-MARY\"\n")
    for backend in ("zxing-cpp", "pyzbar"):
        code, lines, _ = scan(capsys, "--config", cfg, "--backend", backend, images["mrn"],
                              images["band"])
        assert code == 0
        assert lines[0]["results"] == [{**NULLS, "role": "patient", "id": LOCAL_MRN,
                                        "issuer": "ST-MARY", "symbology": "code128",
                                        "gs1": False}]
        # zbar does not read DataMatrix at all.
        assert len(lines[1]["results"]) == (1 if backend == "zxing-cpp" else 0)


def test_missing_and_unreadable_files_fail_clearly_but_the_rest_is_scanned(
        tmp_path, images, capsys):
    cfg = tmp_path / "station.toml"
    cfg.write_text("")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(images["band"].read_bytes()[:200])
    code, lines, err = scan(capsys, "--config", cfg, tmp_path / "gone.png", text, images["band"],
                            truncated, tmp_path)
    assert code == 1
    assert [line["file"] for line in lines] == [str(images["band"])]
    assert f"{tmp_path / 'gone.png'}: no such file" in err
    assert f"{text}: not an image file this station can read" in err
    assert f"{truncated}:" in err
    assert f"{tmp_path}: not a regular file" in err
    assert "4 of 5 file(s) could not be read" in err
    assert PATIENT not in err


def test_real_entry_point_exit_codes(tmp_path, images):
    cfg = tmp_path / "station.toml"
    cfg.write_text("")
    ok = subprocess.run([sys.executable, "-m", "appliance.cli", "scan", "--config", str(cfg),
                         str(images["empty"])], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"file": str(images["empty"]), "results": []}
    bad = subprocess.run([sys.executable, "-m", "appliance.cli", "scan", "--config", str(cfg),
                          str(tmp_path / "nope.png")], capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 1 and "nope.png: no such file" in bad.stderr
    assert bad.stdout == ""


def test_invalid_local_format_config_exits_2_naming_the_key(tmp_path, images, capsys):
    cfg = tmp_path / "station.toml"
    cfg.write_text('[[barcode.local_formats]]\nsymbology = "code128"\npattern = "(?P<mrn>.+)"\n'
                   'issuer = "X"\n')
    assert main(["scan", "--config", str(cfg), str(images["empty"])]) == 2
    assert "local_formats" in capsys.readouterr().err


def test_oversized_command_card_prints_an_invalid_read_and_exits_0(tmp_path):
    """``CSCMD`` + 4301 digits once made int() raise out of the interpreter."""
    import zxingcpp

    symbol = zxingcpp.create_barcode("CSCMD" + "4" * 4301, zxingcpp.BarcodeFormat.QRCode)
    path = tmp_path / "oversized-card.png"
    Image.fromarray(np.asarray(zxingcpp.write_barcode_to_image(symbol, scale=3))).save(path)
    cfg = tmp_path / "station.toml"
    cfg.write_text("")
    run = subprocess.run([sys.executable, "-m", "appliance.cli", "scan", "--config", str(cfg),
                          str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["results"] == [
        {**NULLS, "role": "invalid", "symbology": "qrcode", "gs1": False,
         "error": "malformed command card"}]
