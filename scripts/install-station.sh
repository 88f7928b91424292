#!/usr/bin/env bash
# Install capture-station on Raspberry Pi OS (Bookworm or later) as a hardened systemd service.
#
#   sudo ./scripts/install-station.sh [--no-start] [--dry-run]
#
# What it does, in order (every step is idempotent, so running it again upgrades in place):
#   1. apt: python3-picamera2 (libcamera's Python bindings exist only as a system package),
#      python3-lgpio (GPIO), libzbar0 (second barcode decoder), python3-venv;
#   2. a system user `capture-station` in the video and gpio groups (camera, DMA heaps, GPIO);
#   3. a venv in /opt/capture-station/venv created with --system-site-packages, so it sees
#      apt's picamera2, and this checkout installed into it;
#   4. /etc/capture-station/ (root:capture-station, 0750) with a minimal station.toml;
#   5. the units capture-station.service, capture-station-provision.service and
#      capture-station-provision.path (provisioning by QR code), enabled.
#
# Then drop the provisioning file on the boot partition and reboot (docs/deploy.md).
#
# --dry-run prints the commands that change the system instead of running them, and
# DESTDIR=/some/dir (required with --dry-run) puts the files under that directory: how the
# test-suite checks the script on a machine that is not a Pi. CAPTURE_STATION_ASSUME_PI=1
# selects the Raspberry Pi OS package set elsewhere.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/capture-station}
USER_NAME=capture-station
CONF_DIR=/etc/capture-station
UNIT_DIR=/etc/systemd/system
UNITS=(capture-station.service capture-station-provision.service capture-station-provision.path)
START=1
DRY_RUN=0

for arg in "$@"; do
    case "$arg" in
        --no-start) START=0 ;;
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "install-station: unknown option $arg" >&2; exit 2 ;;
    esac
done

say() { echo "install-station: $*"; }
run() {  # a command that changes the system
    if [[ $DRY_RUN == 1 ]]; then printf '+'; printf ' %q' "$@"; echo; else "$@"; fi
}

is_raspberry_pi_os() {
    [[ ${CAPTURE_STATION_ASSUME_PI:-0} == 1 || -f /etc/rpi-issue ]] || grep -qs "Raspberry Pi" /proc/device-tree/model
}

if [[ $DRY_RUN == 1 && -z "$DESTDIR" ]]; then
    echo "install-station: --dry-run needs DESTDIR=DIR (where the files go)" >&2
    exit 2
fi
if [[ $DRY_RUN == 0 && $(id -u) -ne 0 ]]; then
    echo "install-station: run as root (sudo $0)" >&2
    exit 1
fi

# --- 1. system packages ---------------------------------------------------------------------
apt_packages=(python3-venv python3-pip libzbar0 fonts-dejavu-core)  # the font: card labels beyond Latin-1
if is_raspberry_pi_os; then
    apt_packages+=(python3-picamera2 python3-lgpio)
else
    say "warning: this is not Raspberry Pi OS; installing without the camera packages" \
        "(set [camera] backend = \"fake\" to try the station here)"
fi
say "installing system packages: ${apt_packages[*]}"
run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${apt_packages[@]}"

# --- 2. the service user --------------------------------------------------------------------
if ! id -u "$USER_NAME" >/dev/null 2>&1; then
    say "creating system user $USER_NAME"
    run useradd --system --user-group --home-dir /var/lib/capture-station --no-create-home \
        --shell /usr/sbin/nologin --comment "capture station" "$USER_NAME"
fi
for group in video gpio; do
    if getent group "$group" >/dev/null; then
        run usermod --append --groups "$group" "$USER_NAME"
    else
        say "note: no '$group' group on this system; $USER_NAME is not added to it"
    fi
done

# --- 3. the virtual environment -------------------------------------------------------------
say "installing capture-station into $PREFIX/venv"
run install -d -m 0755 "$DESTDIR$PREFIX"
if [[ ! -x "$DESTDIR$PREFIX/venv/bin/python" ]]; then
    run python3 -m venv --system-site-packages "$DESTDIR$PREFIX/venv"
fi
run "$DESTDIR$PREFIX/venv/bin/python" -m pip install -q --upgrade pip
run "$DESTDIR$PREFIX/venv/bin/python" -m pip install -q --upgrade "$SRC"

# --- 4. configuration -----------------------------------------------------------------------
install -d -m 0750 "$DESTDIR$CONF_DIR"
run chown "root:$USER_NAME" "$DESTDIR$CONF_DIR"
if [[ ! -e "$DESTDIR$CONF_DIR/station.toml" ]]; then
    cat > "$DESTDIR$CONF_DIR/station.toml" <<'EOF'
# capture-station configuration. Provisioning (capture-station.toml on the boot partition)
# fills in the station name and the receiver; every other key keeps its default until set
# here. `capture-station config sample` prints every key with its help text, and
# `capture-station config check` validates this file.
EOF
    chmod 0640 "$DESTDIR$CONF_DIR/station.toml"
    run chown "root:$USER_NAME" "$DESTDIR$CONF_DIR/station.toml"
fi

# --- 5. systemd units -----------------------------------------------------------------------
install -d -m 0755 "$DESTDIR$UNIT_DIR"
for unit in "${UNITS[@]}"; do
    install -m 0644 "$SRC/systemd/$unit" "$DESTDIR$UNIT_DIR/$unit"
done
run systemctl daemon-reload
run systemctl enable "${UNITS[@]}"
if [[ $START == 1 ]]; then
    # The provisioning unit runs only when the file is there; the station starts either way
    # and, until it is enrolled, watches the camera for a provisioning QR code.
    run systemctl start capture-station-provision.path capture-station.service
fi

say "done. Next: copy capture-station.toml (from \`capture-receiver token\`) to the boot"
say "partition (/boot/firmware/) and reboot, or show its QR code to the camera."
say "Check with: systemctl status capture-station; journalctl -u capture-station-provision"
