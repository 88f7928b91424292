"""forwarding.toml: strict parsing with errors that name the key."""

from __future__ import annotations

import pytest

from practice.forwarding.config import ForwardingConfigError, load_config

GOOD = """
institution = "St Example"
[retry]
initial_s = 1
max_s = 60
[[destination]]
name = "pacs"
kind = "dicomweb"
url = "https://pacs.example:8443/dicom-web/"
username = "forwarder"
password_file = "pacs.password"
ca_file = "/etc/ssl/pacs-ca.pem"
[[destination]]
name = "ehr"
kind = "fhir"
url = "https://ehr.example/fhir"
pinned_sha256 = "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89abcdef0123456789abcdef0123456789"
fhir_content = "link"
"""


def _load(tmp_path, text):
    (tmp_path / "forwarding.toml").write_text(text)
    return load_config(tmp_path)


def test_absent_file_means_no_destinations(tmp_path):
    assert load_config(tmp_path).destinations == ()


def test_good_config(tmp_path):
    config = _load(tmp_path, GOOD)
    pacs, ehr = config.destinations
    assert pacs.url == "https://pacs.example:8443/dicom-web"
    assert pacs.password_file == tmp_path / "pacs.password"
    assert ehr.pinned_sha256 == "abcdef0123456789" * 4 and ehr.fhir_content == "link"
    assert (config.retry_initial_s, config.retry_max_s, config.institution) == (1, 60, "St Example")


@pytest.mark.parametrize(("change", "message"), [
    (("institution", "institutoin"), "unknown key 'institutoin'"),
    (("initial_s = 1", "initial_s = nan"), "finite"),
    (("max_s = 60", "max_s = inf"), "finite"),
    (("https://pacs.example:8443", "ftp://pacs.example"), "https://"),
    (("https://pacs.example:8443", "https://user:pw@pacs.example"), "credentials"),
    (("/fhir", "/fhir?x=1"), "query"),
    (("https://pacs.example:8443", "https://pacs.example:99999"), "not a valid URL"),
    (('kind = "fhir"', 'kind = "hl7v2"'), "kind must be"),
    (('name = "ehr"', 'name = "pacs"'), "used twice"),
    (('username = "forwarder"\n', ""), "go together"),
    (("AB:CD:EF:01", "AB:CD"), "64 hex"),
    (("https://pacs.example:8443", "http://pacs.example"), "TLS settings need"),
])
def test_bad_config_names_the_problem(tmp_path, change, message):
    old, new = change
    with pytest.raises(ForwardingConfigError, match=message):
        _load(tmp_path, GOOD.replace(old, new, 1))


def test_basic_auth_over_plain_http_only_to_loopback(tmp_path):
    plain = ('[[destination]]\nname = "p"\nkind = "dicomweb"\nurl = "http://{host}/dw"\n'
             'username = "u"\npassword_file = "pw"\n')
    assert _load(tmp_path, plain.format(host="127.0.0.1:8042")).destinations[0].username == "u"
    with pytest.raises(ForwardingConfigError, match="in clear"):
        _load(tmp_path, plain.format(host="pacs.example"))
