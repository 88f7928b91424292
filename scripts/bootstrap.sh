#!/usr/bin/env bash
# Bring a fresh Debian 12 / Raspberry Pi OS checkout to a working .venv.
#
# Called by `make` (demo, test, bench, lint). Idempotent and fast on a second run: the venv is
# rebuilt only when pyproject.toml changes (a stamp file holds its hash), and apt is asked only
# for packages that are missing. Set CAPTURE_STATION_SKIP_APT=1 to skip the system step.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
WANT_BROWSER=${WANT_BROWSER:-0}

is_raspberry_pi_os() {
    [[ -f /etc/rpi-issue ]] || grep -qs "Raspberry Pi" /proc/device-tree/model
}

# --- system packages -------------------------------------------------------------------------
apt_packages=(libzbar0 curl iproute2 fonts-dejavu-core)  # fonts: card labels beyond Latin-1
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt_packages+=(python3-venv)
fi
if is_raspberry_pi_os; then
    apt_packages+=(python3-picamera2 python3-lgpio)
fi
if [[ "$WANT_BROWSER" == 1 ]]; then
    # `make test`: the browser test drives Debian's Chromium; the unit tests run
    # systemd-analyze (verify, security) on the shipped units; Playwright's bundled node
    # needs libatomic1, which a minimal Debian 12 lacks. The forwarding tests run a real PACS
    # (Orthanc with DICOMweb, two of them on one PostgreSQL index) and check every instance
    # with dciodvfy (dicom3tools).
    apt_packages+=(chromium systemd libatomic1)
    apt_packages+=(orthanc orthanc-dicomweb orthanc-postgresql dicom3tools postgresql)
    # The soak run (tests/soak) widens the receiver's after-filing window with strace's
    # syscall delay injection.
    apt_packages+=(strace)
fi

missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if (( ${#missing[@]} )) && [[ "${CAPTURE_STATION_SKIP_APT:-0}" != 1 ]]; then
    echo "bootstrap: installing system packages: ${missing[*]}"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null; then SUDO="sudo"; else
            echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
        fi
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    if [[ " ${missing[*]} " == *" orthanc "* ]] && command -v systemctl >/dev/null; then
        # The tests start their own Orthanc in a private namespace; the package's system
        # service would only be a PACS listening on this machine's network.
        $SUDO systemctl disable --now orthanc.service >/dev/null 2>&1 || true
    fi
fi

# --- virtual environment ---------------------------------------------------------------------
extras="dev"
venv_args=()
if is_raspberry_pi_os; then
    # apt's picamera2 (and libcamera's bindings) live in the system site-packages.
    venv_args+=(--system-site-packages)
    extras="dev,pi"
fi

stamp="$VENV/.capture-station-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) extras=$extras"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/python" ]]; then
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "bootstrap: creating $VENV"
    python3 -m venv "${venv_args[@]}" "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
echo "bootstrap: installing capture-station[$extras] into $VENV"
"$VENV/bin/python" -m pip install -q -e ".[$extras]"
echo "$want" > "$stamp"
