from pathlib import Path

import pytest

from appliance.config import SCHEMA, ConfigError, load_config
from appliance.sample_config import render_sample
from barcode.interpret import local_formats_from_config
from barcode.symbols import SYMBOLOGIES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config" / "station.sample.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text)
    return path


def test_defaults_when_default_file_absent(tmp_path, monkeypatch):
    monkeypatch.setattr("appliance.config.DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    cfg = load_config(None, environ={})
    assert cfg.workflow.consent_required is True
    assert cfg.camera.backend == "picamera2"
    assert cfg.source.startswith("defaults")


def test_config_path_from_environment(tmp_path):
    path = write(tmp_path, '[station]\nname = "room-4"\n')
    assert load_config(None, environ={"CAPTURE_STATION_CONFIG": str(path)}).station.name == \
        "room-4"
    with pytest.raises(ConfigError, match="file not found"):
        load_config(None, environ={"CAPTURE_STATION_CONFIG": str(tmp_path / "missing.toml")})


def test_sample_config_loads_and_is_current():
    assert SAMPLE.read_text() == render_sample(), "run: capture-station config sample > " \
        "config/station.sample.toml"
    cfg = load_config(SAMPLE, environ={})
    for section, keys in SCHEMA.items():
        for key, setting in keys.items():
            assert cfg.as_dict()[section][key] == setting.default


def test_file_values_override_defaults(tmp_path):
    path = write(tmp_path, '[camera]\nbackend = "fake"\njpeg_quality = 75\n'
                 '[vault]\nreview_window_hours = 2\n')
    cfg = load_config(path, environ={})
    assert cfg.camera.backend == "fake"
    assert cfg.camera.jpeg_quality == 75
    assert cfg.vault.review_window_hours == 2.0
    assert isinstance(cfg.vault.review_window_hours, float)


def test_environment_overrides_file(tmp_path):
    path = write(tmp_path, '[camera]\nbackend = "fake"\n')
    env = {
        "CAPTURE_STATION_CAMERA_BACKEND": "picamera2",
        "CAPTURE_STATION_WORKFLOW_CONSENT_REQUIRED": "no",
        "CAPTURE_STATION_BARCODE_FORMATS": "qrcode, datamatrix",
        "CAPTURE_STATION_WEB_PORT": "9443",
    }
    cfg = load_config(path, environ=env)
    assert cfg.camera.backend == "picamera2"
    assert cfg.workflow.consent_required is False
    assert cfg.barcode.formats == ["qrcode", "datamatrix"]
    assert cfg.web.port == 9443


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[workflow]\nconsent_requried = false\n", "consent_requried: unknown key; did you mean "
         "'consent_required'"),
        ("[workflo]\nconsent_required = false\n", "unknown section [workflo]; did you mean "
         "'workflow'"),
        ("[web]\nport = 70000\n", "[web] port = 70000 is too large"),
        ("[web]\nport = \"8443\"\n", "[web] port = '8443' has the wrong type"),
        ("[workflow]\nconsent_required = 1\n", "[workflow] consent_required = 1 has the wrong"),
        ("[camera]\nbackend = \"webcam\"\n", "one of 'picamera2', 'fake'"),
        ("[barcode]\nformats = [\"ean13\"]\n", "[barcode] formats contains ['ean13']"),
        ("[gpio]\nbutton_pin = 40\n", "a BCM GPIO number from 0 to 27"),
        ("[sync]\nreceiver_pin = \"abc\"\n", "64 lowercase hex digits"),
        ("[gpio]\nled_pin = 17\n", "pins must differ"),
        ("[barcode]\nformats = []\n", "at least one symbology"),
        ("[barcode]\n[[barcode.local_formats]]\nsymbology = \"code128\"\npattern = \"MRN\\\\d+\"\n"
         "issuer = \"X\"\n", "named group (?P<id>...)"),
        ("[barcode]\n[[barcode.local_formats]]\nsymbology = \"code128\"\npattern = \"(?P<id>\"\n"
         "issuer = \"X\"\n", "not a valid regular expression"),
        ("camera = 3\n", "[camera] must be a table"),
        ("[camera\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    assert needle in str(info.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "[web]\nport = 0\nlisten = 5\n[camera]\nwidth = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert len(info.value.problems) == 3


def test_bad_environment_variable_is_an_error(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match="CAPTURE_STATION_WORKFLOW_CONSENT_REQUIRD"):
        load_config(path, environ={"CAPTURE_STATION_WORKFLOW_CONSENT_REQUIRD": "0"})
    with pytest.raises(ConfigError, match="has the wrong type"):
        load_config(path, environ={"CAPTURE_STATION_WORKFLOW_CONSENT_REQUIRED": "maybe"})


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_valid_local_format(tmp_path):
    path = write(tmp_path, "[[barcode.local_formats]]\nsymbology = \"code128\"\n"
                 "pattern = '^MRN(?P<id>\\d+)$'\nrole = \"patient\"\nissuer = \"HOSP\"\n")
    cfg = load_config(path, environ={})
    assert cfg.barcode.local_formats[0]["issuer"] == "HOSP"


LOCAL_FORMAT_ENTRIES = [
    ({"symbology": "ean13", "pattern": "(?P<id>.)", "issuer": "X"}, "symbology"),
    ({"symbology": "qrcode", "pattern": "(?P<id>.)", "issuer": "X", "role": "x"}, "role"),
    ({"symbology": "qrcode", "pattern": "(?P<id>.)"}, "issuer"),
    ({"symbology": "qrcode", "pattern": "(?P<mrn>.)", "issuer": "X"}, "(?P<id>...)"),
    ({"symbology": "qrcode", "pattern": "(", "issuer": "X"}, "regular expression"),
    ({"symbology": "datamatrix", "pattern": "(?P<issuer>[A-Z]+)-(?P<id>\\d+)",
      "role": "caregiver"}, None),
]


def defaults_config(tmp_path):
    return load_config(tmp_path / "absent.toml", environ={}, required=False)


@pytest.mark.parametrize(("entry", "needle"), [
    *[case for case in LOCAL_FORMAT_ENTRIES if case[1]],
    ({"symbology": "qrcode", "pattern": "(?P<id>.)", "issuer": "X", "colour": "red"},
     "unknown key(s) ['colour']"),
    ({"symbology": "qrcode", "pattern": "(?P<id>.)", "issuer": 7}, "issuer must be a string"),
])
def test_local_format_refusal_names_the_key_and_entry(tmp_path, entry, needle):
    with pytest.raises(ConfigError) as info:
        defaults_config(tmp_path).replace(barcode={"local_formats": [{"symbology": "qrcode",
                                          "pattern": "(?P<id>.)", "issuer": "A"}, entry]})
    message = str(info.value)
    assert "[barcode] local_formats" in message and "entry 1" in message
    assert needle in message


@pytest.mark.parametrize(("entry", "needle"), LOCAL_FORMAT_ENTRIES)
def test_config_accepts_exactly_the_local_formats_the_reader_can_use(tmp_path, entry, needle):
    def reader_accepts() -> bool:
        try:
            local_formats_from_config([entry])
        except ValueError:
            return False
        return True

    def config_accepts() -> bool:
        try:
            defaults_config(tmp_path).replace(barcode={"local_formats": [entry]})
        except ConfigError:
            return False
        return True

    assert config_accepts() is reader_accepts() is (needle is None)


def test_formats_are_barcodes_symbologies():
    assert SCHEMA["barcode"]["formats"].item_choices == SYMBOLOGIES


def test_replace_validates(tmp_path):
    cfg = load_config(write(tmp_path, ""), environ={})
    assert cfg.replace(camera={"backend": "fake"}).camera.backend == "fake"
    with pytest.raises(ConfigError, match="backnd"):
        cfg.replace(camera={"backnd": "fake"})


def test_second_look_stack_and_rescan_settings_reach_reader_and_workflow(tmp_path):
    from appliance.compose import rules_from_config
    from barcode.reader import build_reader

    defaults = load_config(write(tmp_path, ""), environ={})
    assert defaults.barcode.second_look is True and defaults.barcode.stack_frames == 4
    assert rules_from_config(defaults).rescan_after_seconds == 300.0
    path = write(tmp_path, "[barcode]\nsecond_look = false\nstack_frames = 2\n"
                 "[workflow]\nrescan_after_seconds = 0\n")
    cfg = load_config(path, environ={})
    reader = build_reader(dict(cfg.barcode), cfg.workflow.body_sites)
    assert reader.look is None and reader.settings.stack_frames == 2
    assert rules_from_config(cfg).rescan_after_seconds == 0.0
    with pytest.raises(ConfigError, match="stack_frames"):
        load_config(write(tmp_path, "[barcode]\nstack_frames = 0\n"), environ={})
    with pytest.raises(ConfigError, match="rescan_after_seconds"):
        load_config(write(tmp_path, "[workflow]\nrescan_after_seconds = -1\n"), environ={})
