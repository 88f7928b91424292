"""``capture-station document``: called through its own parser, as cli.main would."""

import argparse

import pikepdf
import pytest

from appliance.cli import CommandError
from appliance.commands import document
from tests.documents.corpus import FOUND, REFUSED, still


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    document.register(parser.add_subparsers())
    args = parser.parse_args(["document", *argv])
    return args.func(args)


@pytest.fixture
def photos(tmp_path):
    paths = []
    for case in (FOUND[0], FOUND[-3]):
        path = tmp_path / f"{case.name}.jpg"
        path.write_bytes(still(case))
        paths.append(path)
    return paths


def test_photos_become_one_pdf(tmp_path, photos, capsys):
    out = tmp_path / "pages.pdf"
    assert _run(*map(str, photos), "--out", str(out)) == 0
    assert len(pikepdf.open(out).pages) == 2
    assert "wrote 2 page(s)" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600  # may hold patient data


def test_no_page_in_an_image_exits_2_and_writes_nothing(tmp_path, photos):
    bad = tmp_path / "off-frame.jpg"
    bad.write_bytes(still(REFUSED[0]))
    out = tmp_path / "pages.pdf"
    with pytest.raises(CommandError) as caught:
        _run(str(photos[0]), str(bad), "--out", str(out))
    assert caught.value.exit_code == 2
    assert str(bad) in str(caught.value)
    assert "edge of the picture" in str(caught.value)
    assert not out.exists()


def test_a_missing_or_unreadable_file_exits_1(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a photo")
    for path in (tmp_path / "absent.jpg", junk):
        with pytest.raises(CommandError) as caught:
            _run(str(path), "--out", str(tmp_path / "x.pdf"))
        assert caught.value.exit_code == 1
