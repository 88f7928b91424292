"""`capture-receiver stations` as IT uses it with twenty stations: by name or id prefix, with
the tokens still waiting for a station, and nothing a station chose printed raw."""

from __future__ import annotations

import pytest

from practice.cli import main as receiver_main
from practice.keys import ReceiverKeys
from practice.store import ReceiverStore
from tests.sync.helpers import new_station, unique_name


@pytest.fixture
def data_dir(tmp_path):
    ReceiverKeys.create(tmp_path / "recv", unique_name())
    ReceiverStore(tmp_path / "recv").close()
    return tmp_path / "recv"


def _enrol(data_dir, name, room=None, approval=False):
    store = ReceiverStore(data_dir)
    try:
        token, _ = store.create_token(name if room is None else room, 600, approval)
        station = new_station(name)
        store.redeem_token(token, station.station_id, station.public_raw, name)
        return station.station_id
    finally:
        store.close()


def _status(data_dir, station_id):
    store = ReceiverStore(data_dir)
    try:
        return store.station(station_id).status
    finally:
        store.close()


def _stations(data_dir, *args):
    return receiver_main(["stations", "--data-dir", str(data_dir), *args])


def test_empty_listing_says_so(data_dir, capsys):
    assert _stations(data_dir) == 0
    out = capsys.readouterr().out
    assert "no station enrolled yet" in out and "capture-receiver token" in out
    assert "STATION" not in out


def test_listing_shows_issued_tokens_but_not_used_or_expired_ones(data_dir, capsys):
    _enrol(data_dir, "exam-1")  # its token is used
    store = ReceiverStore(data_dir)
    store.create_token("Room 7", 3600, require_approval=True)
    store.create_token("Room gone", -1, require_approval=False)  # already expired
    store.close()
    assert _stations(data_dir, "list") == 0
    out = capsys.readouterr().out
    assert "issued tokens not used yet (1):" in out
    token_lines = out.split("issued tokens")[1].splitlines()
    assert any("Room 7" in line and "required" in line for line in token_lines)
    assert "Room gone" not in out


def test_name_and_room_are_one_column_unless_they_differ(data_dir, capsys):
    _enrol(data_dir, "exam-1")
    _enrol(data_dir, "exam-2", room="Room 2")
    assert _stations(data_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "ROOM" not in lines[0] and "NAME" in lines[0]
    row1 = next(line for line in lines if " exam-1" in line)
    assert row1.count("exam-1") == 1
    assert any("exam-2 (token: Room 2)" in line for line in lines)


def test_station_named_by_name_or_unique_prefix(data_dir, capsys):
    first = _enrol(data_dir, "exam-1", approval=True)
    assert _stations(data_dir, "approve", "exam-1") == 0
    assert _status(data_dir, first) == "approved"
    assert f"{first} (exam-1): approved" in capsys.readouterr().out
    prefix = first[:9]  # st- and six hex digits
    assert _stations(data_dir, "revoke", prefix) == 0
    assert _status(data_dir, first) == "revoked"
    assert _stations(data_dir, "approve", first[3:10].upper()) == 0  # without st-, any case
    assert _status(data_dir, first) == "approved"


def test_ambiguous_station_lists_the_candidates(data_dir, capsys):
    ids = [_enrol(data_dir, "exam") for _ in range(2)]
    assert _stations(data_dir, "revoke", "exam") == 1
    err = capsys.readouterr().err
    assert "fits 2 stations" in err and all(i in err for i in ids)
    assert all(_status(data_dir, i) == "approved" for i in ids)


def test_ambiguous_prefix_lists_the_candidates(data_dir, capsys):
    store = ReceiverStore(data_dir)
    ids = ["st-abcd" + "0" * 19 + str(n) for n in (1, 2)]
    for n, station_id in enumerate(ids):
        token, _ = store.create_token("", 600, False)
        store.redeem_token(token, station_id, new_station(f"e{n}").public_raw, f"exam-{n}")
    store.close()
    assert _stations(data_dir, "revoke", "st-abcd") == 1
    err = capsys.readouterr().err
    assert "fits 2 stations" in err and all(i in err for i in ids)
    assert _stations(data_dir, "revoke", "abcd" + "0" * 19 + "2") == 0
    assert [_status(data_dir, i) for i in ids] == ["approved", "revoked"]


def test_unknown_or_too_short_station_points_to_list(data_dir, capsys):
    station_id = _enrol(data_dir, "exam-1")
    assert _stations(data_dir, "approve", "st-nope") == 1
    err = capsys.readouterr().err
    assert "no station 'st-nope'" in err and "stations list" in err
    assert _stations(data_dir, "approve", station_id[:5]) == 1
    assert "at least 4 characters" in capsys.readouterr().err
    assert _stations(data_dir, "revoke") == 1
    assert "stations list" in capsys.readouterr().err


def test_names_a_station_chose_are_escaped(data_dir, capsys):
    evil = "exam\x1b[2J\x1b]0;owned\x07"
    station_id = _enrol(data_dir, evil, room="Room 1")
    store = ReceiverStore(data_dir)
    store.record_contact(station_id, queue_depth=0, version="1.0\x1b[31m")
    store.close()
    assert _stations(data_dir) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "exam\\x1b[2J\\x1b]0;owned\\x07" in out and "1.0\\x1b[31m" in out
    assert _stations(data_dir, "revoke", evil) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "revoked" in out
