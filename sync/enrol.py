"""Station-side enrolment: provisioning file -> pinned receiver -> registered key, practice key.

The provisioning bundle (written by ``capture-receiver token``, read by
:func:`sync.provisioning.read_toml`, the one parser) tells the station the receiver's mDNS
name and TLS pin and carries a one-time token. Enrolment sends the station's Ed25519 public
key and the token in a request signed by that very key (proof of possession), over TLS
pinned to the provisioned key, and gets back the practice's X25519 key (captures are sealed
to it) and the receiver's receipt-signing key. Nothing is trusted before the pin
matches; nothing is sent to an address whose key does not.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .client import ReceiverClient, ReceiverUnavailable
from .pinning import PinMismatch
from .protocol import station_id_for
from .provisioning import Bundle, ProvisioningError
from .strictparse import ParseError, loads_json, shown

AuditSink = Callable[[str, dict[str, Any]], None]


class EnrolError(ProvisioningError):
    """Enrolment did not happen (no receiver, a refusal, a bad answer); the message says why
    and what to do."""


@dataclass(frozen=True)
class EnrolResult:
    station_id: str
    status: str  # approved or pending (an admin must still approve)
    receiver_name: str
    receiver_pin: str
    practice_public_key: bytes  # raw X25519
    receipt_public_key: bytes  # raw Ed25519


def enrol(
    key: Ed25519PrivateKey,
    bundle: Bundle,
    addresses: list[tuple[str, int]],
    *,
    station_name: str,
    audit: AuditSink,
    timeout: float = 30.0,
) -> EnrolResult:
    """Try each address in turn (pin-checked) and enrol at the first genuine receiver."""
    public_raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    station_id = station_id_for(public_raw)
    body = json.dumps({
        "token": bundle.token,
        "public_key": base64.b64encode(public_raw).decode(),
        "station_name": station_name,
    }).encode()
    problems: list[str] = []
    for host, port in addresses:
        client = ReceiverClient(host, port, bundle.receiver_pin, key, station_id,
                                timeout=timeout)
        try:
            response = client.request("POST", "/v1/enrol", body=body,
                                      sha256_hex=_sha256(body),
                                      content_type="application/json")
        except PinMismatch as exc:
            audit("sync.pin_mismatch", {"host": host, "port": port, "seen_pin": exc.seen,
                                        "expected_pin": bundle.receiver_pin,
                                        "receiver_name": bundle.receiver_name})
            problems.append(f"{host}:{port} has another TLS key (not the provisioned receiver)")
            continue
        except ReceiverUnavailable as exc:
            problems.append(str(exc))
            continue
        finally:
            client.close()
        answer = _answer(response.body)
        if response.status != 200:
            detail = answer.get("detail") or answer.get("error") or str(response.status)
            raise EnrolError(f"the receiver refused enrolment: {_printable(detail)}")
        return _result(answer, station_id, bundle)
    if not addresses:
        raise EnrolError(f"no receiver named {bundle.receiver_name!r} (or with the "
                         "provisioned pin) was found on the network")
    raise EnrolError("could not enrol: " + "; ".join(problems))


def _answer(body: bytes) -> dict[str, Any]:
    """The receiver's JSON answer, strictly parsed; {} for anything that is not an object."""
    try:
        data = loads_json(body, floats=True)
    except ParseError:
        return {}
    return data if isinstance(data, dict) else {}


def _printable(value: object) -> str:
    """A receiver's short message, as text that cannot drive a terminal."""
    text = value if isinstance(value, str) else str(value)[:40]
    return "".join(ch if ch.isprintable() else "?" for ch in text[:200])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _result(data: dict[str, Any], station_id: str, bundle: Bundle) -> EnrolResult:
    try:
        practice = base64.b64decode(data["practice_public_key"], validate=True)
        receipt = base64.b64decode(data["receipt_public_key"], validate=True)
        status = data["status"]
        returned_id = data["station_id"]
    except (KeyError, TypeError, ValueError):  # binascii.Error is a ValueError
        raise EnrolError("the receiver's enrolment answer is malformed") from None
    if returned_id != station_id or len(practice) != 32 or len(receipt) != 32:
        raise EnrolError("the receiver's enrolment answer does not fit this station")
    if status not in ("approved", "pending", "revoked"):
        raise EnrolError(f"unexpected station status {shown(status)}")
    if status == "revoked":
        raise EnrolError("this station's key is revoked at the receiver; ask the practice "
                         "admin to run `capture-receiver stations approve " + station_id + "`")
    return EnrolResult(station_id, status, bundle.receiver_name,
                       bundle.receiver_pin, practice, receipt)
