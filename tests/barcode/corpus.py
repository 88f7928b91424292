"""A generated corpus of preview frames with known contents, shared by tests and the bench.

Frames come from :class:`capture.fake.FakeCamera`, which draws real symbols with zxing-cpp's
writer over a clinical-looking scene and downsamples the still to the lores preview, as the
Pi's ISP does. The still is twice the preview size, so ``module_px=4`` is 2 preview pixels per
module: the readable limit for zxing-cpp. GS1 symbols are genuine (``Symbol.gs1``: FNC1
first), not text that merely looks like an element string.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from barcode.gs1 import with_check_digit
from capture.fake import FakeCamera, Scene, Symbol

# Fictitious GSRNs on the GS1 example company prefix 9512345.
PATIENT = with_check_digit("79512345000000001")
PATIENT_2 = with_check_digit("79512345000000002")
CAREGIVER = with_check_digit("79512345000009001")
BAD_PATIENT = PATIENT[:-1] + str((int(PATIENT[-1]) + 1) % 10)
ENCOUNTER = "4400123"

#: The local wristband format of the fictitious "ST-MARY" hospital (PDF417 and Code 128).
LOCAL_FORMATS = [
    {"symbology": "pdf417", "pattern": r"MRN\^(?P<id>\d{8})\^ENC\^(?P<encounter>[A-Z0-9]+)",
     "role": "patient", "issuer": "ST-MARY"},
    {"symbology": "code128", "pattern": r"MRN(?P<id>\d{8})", "role": "patient",
     "issuer": "ST-MARY"},
    {"symbology": "code128", "pattern": r"EMP-(?P<id>\d{4,6})", "role": "caregiver",
     "issuer": "ST-MARY"},
]
LOCAL_MRN = "20240117"

SIZES = {"640": ((640, 480), (1280, 960)), "1080": ((1920, 1080), (3840, 2160))}
BACKEND_SYMBOLOGIES = {"zxing-cpp": ("code128", "qrcode", "datamatrix", "pdf417"),
                       "pyzbar": ("code128", "qrcode")}


@dataclass(frozen=True)
class Expected:
    """One result the frame must yield: role plus id/issuer/encounter or the command name."""

    role: str
    id: str | None = None
    issuer: str | None = None
    encounter: str | None = None
    command: str | None = None

    def matches(self, result: dict) -> bool:
        return all(result[k] == getattr(self, k) for k in
                   ("role", "id", "issuer", "encounter", "command"))


@dataclass(frozen=True)
class Case:
    name: str
    size: str  # "640" or "1080"
    scene: Scene
    expected: tuple[Expected, ...]
    only: tuple[str, ...] = ()  # backends meant to read it, when not every capable one

    @property
    def symbologies(self) -> set[str]:
        return {s.symbology for s in self.scene.symbols}

    def readable_by(self, backend: str) -> bool:
        if self.only and backend not in self.only:
            return False
        return self.symbologies <= set(BACKEND_SYMBOLOGIES[backend])


def _patient_symbol(symbology: str, module_px: int, angle: float) -> tuple[Symbol, Expected]:
    if symbology == "pdf417":
        content = f"MRN^{LOCAL_MRN}^ENC^A77"
        return (Symbol("pdf417", content, module_px=module_px, angle=angle, center=(0.62, 0.55)),
                Expected("patient", LOCAL_MRN, "ST-MARY", "A77"))
    if symbology == "datamatrix":
        content, encounter = f"(8018){PATIENT}(8019){ENCOUNTER}", ENCOUNTER
    else:
        content, encounter = f"(8018){PATIENT}", None
    return (Symbol(symbology, content, module_px=module_px, angle=angle, center=(0.62, 0.55),
                   gs1=True),
            Expected("patient", PATIENT, "GS1", encounter))


#: Per symbology: (module_px at 2x, "rotation" angle) for the ordinary frames. 2-D codes turn
#: freely; linear codes are read along rows, so they are tilted a little or turned over.
_VARIANTS = {
    "datamatrix": (6, 30.0), "qrcode": (6, 30.0), "code128": (4, 180.0), "pdf417": (4, 180.0),
}


def symbol_cases() -> list[Case]:
    """Every supported symbology at both sizes: plain, rotated, tilted, blurred, noisy, small."""
    cases = []
    for size in SIZES:
        for symbology, (module_px, angle) in _VARIANTS.items():
            variants = {
                "plain": (module_px, 0.0, {}),
                "rotated": (module_px, angle, {}),
                "tilted": (module_px, 5.0, {}),
                "blur": (module_px, 0.0, {"blur": 1.2}),
                "noise": (module_px, 0.0, {"noise": 10.0}),
                # 2 preview pixels per module; zbar needs 2.5 for QR (see "limit" below).
                "small": (5 if symbology == "qrcode" else 4, 0.0, {}),
            }
            for variant, (mpx, ang, effects) in variants.items():
                symbol, expected = _patient_symbol(symbology, mpx, ang)
                cases.append(Case(f"{symbology}-{variant}-{size}", size,
                                  Scene(symbols=(symbol,), **effects), (expected,)))
    symbol, expected = _patient_symbol("qrcode", 4, 0.0)
    cases.append(Case("qrcode-limit-640", "640", Scene(symbols=(symbol,)), (expected,),
                      only=("zxing-cpp",)))
    return cases


def special_cases() -> list[Case]:
    """Check-digit errors, badges, caregiver-as-patient, two patients, products, cards."""
    s = Symbol
    c = [
        Case("empty-640", "640", Scene(), ()),
        Case("bad-check-digit-datamatrix", "640",
             Scene(symbols=(s("datamatrix", f"(8018){BAD_PATIENT}", module_px=6, gs1=True),)),
             (Expected("invalid"),)),
        Case("bad-check-digit-code128", "640",
             Scene(symbols=(s("code128", f"(8018){BAD_PATIENT}", module_px=4, gs1=True),)),
             (Expected("invalid"),)),
        Case("bad-check-digit-qrcode", "640",
             Scene(symbols=(s("qrcode", f"(8018){BAD_PATIENT}", module_px=6, gs1=True),)),
             (Expected("invalid"),)),
        Case("caregiver-badge-code128", "640",
             Scene(symbols=(s("code128", f"(8017){CAREGIVER}", module_px=4, gs1=True),)),
             (Expected("caregiver", CAREGIVER, "GS1"),)),
        Case("caregiver-badge-qrcode", "640",
             Scene(symbols=(s("qrcode", f"(8017){CAREGIVER}", module_px=6, gs1=True),)),
             (Expected("caregiver", CAREGIVER, "GS1"),)),
        # A badge presented as if it were a wristband, with an encounter: never a patient.
        Case("caregiver-as-patient-with-encounter", "640",
             Scene(symbols=(s("qrcode", f"(8017){CAREGIVER}(8019){ENCOUNTER}", module_px=6,
                              gs1=True),)),
             (Expected("invalid"),)),
        Case("patient-and-caregiver-in-one-symbol", "640",
             Scene(symbols=(s("qrcode", f"(8018){PATIENT}(8017){CAREGIVER}", module_px=6,
                              gs1=True),)),
             (Expected("invalid"),)),
        Case("local-caregiver-badge", "640",
             Scene(symbols=(s("code128", "EMP-40211", module_px=4),)),
             (Expected("caregiver", "40211", "ST-MARY"),)),
        Case("local-mrn-code128", "640",
             Scene(symbols=(s("code128", f"MRN{LOCAL_MRN}", module_px=4),)),
             (Expected("patient", LOCAL_MRN, "ST-MARY"),)),
        Case("two-patients-datamatrix", "640",
             Scene(symbols=(s("datamatrix", f"(8018){PATIENT}", module_px=6, gs1=True,
                              center=(0.3, 0.5)),
                            s("datamatrix", f"(8018){PATIENT_2}", module_px=6, gs1=True,
                              center=(0.75, 0.5)))),
             (Expected("patient", PATIENT, "GS1"), Expected("patient", PATIENT_2, "GS1"))),
        Case("two-patients-qrcode", "640",
             Scene(symbols=(s("qrcode", f"(8018){PATIENT}", module_px=6, gs1=True,
                              center=(0.3, 0.5)),
                            s("qrcode", f"(8018){PATIENT_2}", module_px=6, gs1=True,
                              center=(0.75, 0.5)))),
             (Expected("patient", PATIENT, "GS1"), Expected("patient", PATIENT_2, "GS1"))),
        Case("product-ean-in-code128", "640",
             Scene(symbols=(s("code128", "4006381333931", module_px=4),)),
             (Expected("unknown"),)),
        Case("product-gs1-datamatrix", "640",
             Scene(symbols=(s("datamatrix", "(01)09506000134352(17)261231(10)AB12",
                              module_px=6, gs1=True),)),
             (Expected("unknown"),)),
        Case("command-card-consent", "640",
             Scene(symbols=(s("qrcode", "CSCMD1:consent:teaching", module_px=6),)),
             (Expected("command", command="consent:teaching"),)),
        Case("command-card-end", "1080",
             Scene(symbols=(s("qrcode", "CSCMD1:session:end", module_px=6, angle=20),)),
             (Expected("command", command="session:end"),)),
        Case("command-card-unknown-value", "640",
             Scene(symbols=(s("qrcode", "CSCMD1:consent:maybe", module_px=6),)),
             (Expected("invalid"),)),
        Case("command-card-future-version", "640",
             Scene(symbols=(s("qrcode", "CSCMD2:consent:teaching", module_px=6),)),
             (Expected("invalid"),)),
    ]
    return c


def all_cases() -> list[Case]:
    return symbol_cases() + special_cases()


@cache
def frame(case: Case) -> np.ndarray:
    """The lores Y plane the fake camera shows for ``case`` (rendered once per process)."""
    lores, still = SIZES[case.size]
    with FakeCamera(case.scene, still_size=still, lores_size=lores) as camera:
        return camera.preview_luma()
