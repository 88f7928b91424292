"""Provisioning from a QR code shown to the camera: FakeCamera renders real QR codes (zxing-cpp's
writer), the station reads them with its own decoder, and enrols against a real receiver."""

from __future__ import annotations

import pytest

from appliance import provisioning as prov
from appliance.cli import main
from appliance.config import load_config
from appliance.enrolment import load_enrolment
from appliance.web.accounts import open_accounts
from capture.fake import FakeCamera, Scene, Symbol
from sync import provisioning as fmt
from sync.provisioning import Admin, Bundle
from tests.appliance.test_provisioning import OTP, Station, make_bundle, receiver, registered

__all__ = ["receiver"]  # the fixture, shared with the file-based tests

WRISTBAND = Symbol("code128", "MRN00424242", module_px=6, center=(0.25, 0.8))
OTHER_QR = Symbol("qrcode", "MRN00424242", module_px=10, center=(0.8, 0.25))


class FakeClock:
    """Time that moves only when the scanner sleeps: timeouts without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def camera_showing(*symbols: Symbol) -> FakeCamera:
    return FakeCamera(Scene(symbols=symbols))


def qr_of(bundle: Bundle, module_px: int = 20) -> Symbol:
    return Symbol("qrcode", fmt.to_qr_payload(bundle), module_px=module_px,
                  center=(0.5, 0.45))


def test_qr_code_provisions_a_blank_station(tmp_path, receiver):
    station = Station(tmp_path / "station")
    bundle = make_bundle(receiver)
    camera = camera_showing(WRISTBAND, OTHER_QR, qr_of(bundle))
    outcome = prov.provision_from_camera(camera, station.config, locate=prov.mdns_locate(5),
                                         timeout=5)
    assert outcome is not None and outcome.receiver_name == receiver.keys.name
    enrolment = load_enrolment(station.paths)
    assert enrolment.station_id == outcome.station_id
    assert registered(receiver) == [outcome.station_id]
    assert load_config(station.config, environ={}).camera.jpeg_quality == 95
    assert open_accounts(station.paths).verify("it-admin", OTP) is not None
    assert camera.stills_taken == 0  # a clear code is read from the preview stream


def test_a_dense_code_is_read_from_a_still_when_the_preview_is_too_coarse(receiver):
    bundle = make_bundle(receiver)
    fine = qr_of(bundle, module_px=8)  # ~1.3 preview pixels per module: unreadable there
    clock = FakeClock()
    camera = camera_showing(fine)
    assert prov.scan_for_bundle(camera, timeout=2, still_every=0, clock=clock,
                                sleep=clock.sleep) is None
    found = prov.scan_for_bundle(camera, timeout=2, still_every=3, clock=clock,
                                 sleep=clock.sleep)
    assert found == bundle
    assert camera.stills_taken == 1


def test_other_codes_are_ignored_and_not_logged(caplog):
    clock = FakeClock()
    camera = camera_showing(WRISTBAND, OTHER_QR)
    caplog.set_level("DEBUG")
    assert prov.scan_for_bundle(camera, timeout=1.0, interval=0.25, clock=clock,
                                sleep=clock.sleep) is None
    assert clock.now >= 1.0
    assert "MRN00424242" not in caplog.text


@pytest.mark.parametrize("payload, fragment", [
    (fmt.QR_PREFIX + '{"r":"practice"', "not valid JSON"),
    (fmt.QR_PREFIX + '{"r":"practice","p":"AA","t":"' + "t" * 20 + '","a":"admin","o":"'
     + OTP + '"}', "receiver_pin must be 64 lowercase hex"),
])
def test_a_damaged_provisioning_code_is_reported_without_secrets(tmp_path, payload, fragment):
    station = Station(tmp_path / "station")
    camera = camera_showing(Symbol("qrcode", payload, module_px=16))
    with pytest.raises(prov.ProvisioningError) as info:
        prov.provision_from_camera(camera, station.config, locate=prov.fixed_locate([]),
                                   timeout=1)
    assert fragment in str(info.value)
    assert OTP not in str(info.value)
    station.assert_untouched(None)


def test_a_qr_bundle_failing_at_the_receiver_keeps_nothing(tmp_path, receiver):
    station = Station(tmp_path / "station")
    expired = make_bundle(receiver, ttl=-1, admin=Admin("it-admin", one_time_password=OTP))
    camera = camera_showing(qr_of(expired))
    with pytest.raises(prov.ProvisioningError, match="expired"):
        prov.provision_from_camera(camera, station.config, locate=prov.mdns_locate(5),
                                   timeout=5)
    station.assert_untouched(None)
    assert registered(receiver) == []


def test_scan_command_without_a_code_times_out_clearly(tmp_path, capsys):
    station = Station(tmp_path / "station")
    code = main(["--config", str(station.config), "provision", "--scan", "--timeout", "0.3"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no provisioning QR code was seen" in err
    station.assert_untouched(None)


def test_receiver_token_qr_to_station_camera_end_to_end(tmp_path, receiver, capsys):
    """`capture-receiver token --qr` -> printed code -> station camera -> enrolled."""
    import numpy as np
    import zxingcpp
    from PIL import Image

    from practice.cli import main as receiver_main

    png = tmp_path / "capture-station.png"
    assert receiver_main(["token", "--data-dir", str(receiver.data_dir), "--name", "exam-9",
                          "--admin", "it-admin", "--qr", str(png)]) == 0
    capsys.readouterr()
    (read,) = zxingcpp.read_barcodes(np.asarray(Image.open(png).convert("L")))
    station = Station(tmp_path / "station")
    camera = camera_showing(WRISTBAND, Symbol("qrcode", read.text, module_px=20))
    outcome = prov.provision_from_camera(camera, station.config, locate=prov.mdns_locate(5),
                                         timeout=5)
    assert outcome.station_name == "exam-9"
    assert registered(receiver) == [outcome.station_id]
    otp = fmt.parse_qr_payload(read.text).admin.one_time_password
    assert open_accounts(station.paths).verify("it-admin", otp) is not None


def test_running_station_spools_a_qr_bundle_once(tmp_path, receiver):
    spool = tmp_path / "run" / fmt.FILE_NAME
    spooler = prov.QrSpooler(spool)
    camera = camera_showing(WRISTBAND)
    camera.start()
    assert spooler.feed(camera.preview_luma()) is None and not spool.exists()

    bundle = make_bundle(receiver)
    camera.set_scene(Scene(symbols=(WRISTBAND, qr_of(bundle))))
    assert spooler.feed(camera.preview_luma()) == bundle
    assert spool.stat().st_mode & 0o777 == 0o600
    assert fmt.parse_toml(spool.read_text()) == bundle
    spool.unlink()  # the provisioning service took it (and failed, say)
    assert spooler.feed(camera.preview_luma()) is None  # the same code is not retried
    assert not spool.exists()
    fresh = make_bundle(receiver)
    camera.set_scene(Scene(symbols=(qr_of(fresh),)))
    assert spooler.feed(camera.preview_luma()) == fresh


def test_spooled_bundle_is_applied_by_the_command_and_removed(tmp_path, receiver, capsys,
                                                              monkeypatch):
    spool = tmp_path / "run" / fmt.FILE_NAME
    monkeypatch.setattr(prov, "QR_SPOOL", spool)
    station = Station(tmp_path / "station")  # no file on its boot partition
    spooler = prov.QrSpooler(spool)
    camera = camera_showing(qr_of(make_bundle(receiver, ttl=-1)))
    camera.start()
    assert spooler.feed(camera.preview_luma()) is not None
    code, out = station.provision(capsys=capsys)
    assert code == 1 and "expired" in out
    assert not spool.exists()  # a failed QR copy is dropped: IT shows a new code
    station.assert_untouched(None)

    camera.set_scene(Scene(symbols=(qr_of(make_bundle(receiver)),)))
    assert spooler.feed(camera.preview_luma()) is not None
    code, out = station.provision(capsys=capsys)
    assert code == 0, out
    assert f"provisioned from {spool} (deleted)" in out
    assert not spool.exists()
    assert registered(receiver) == [load_enrolment(station.paths).station_id]
