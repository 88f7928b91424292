#!/usr/bin/env bash
# Install capture-receiver on a Debian 12+ or Ubuntu 22.04+ practice server as a systemd service.
#
#   sudo ./scripts/install-receiver.sh [--name NAME] [--no-start] [--dry-run]
#
# What it does, in order (idempotent; running it again upgrades in place and keeps the keys):
#   1. apt: python3-venv, python3-pip;
#   2. a system user `capture-receiver` (no login, no groups);
#   3. a venv in /opt/capture-receiver/venv with this checkout installed into it;
#   4. the receiver's keys, once, in /var/lib/capture-receiver (`capture-receiver init`,
#      run as that user); an existing key set is never replaced;
#   5. capture-receiver.service, enabled and started.
#
# It prints the receiver's name and TLS pin; `capture-receiver token` puts both into each
# station's provisioning file. Back up /var/lib/capture-receiver/keys: without the practice key
# no sealed capture can be opened.
#
# --dry-run prints the commands that change the system instead of running them; DESTDIR=DIR
# (required with --dry-run) puts the files under DIR (used by the test-suite).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/capture-receiver}
USER_NAME=capture-receiver
DATA_DIR=/var/lib/capture-receiver
UNIT_DIR=/etc/systemd/system
UNIT=capture-receiver.service
NAME=""
START=1
DRY_RUN=0

while (( $# )); do
    case "$1" in
        --name) NAME=${2:?--name needs a value}; shift ;;
        --no-start) START=0 ;;
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "install-receiver: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "install-receiver: $*"; }
run() {
    if [[ $DRY_RUN == 1 ]]; then printf '+'; printf ' %q' "$@"; echo; else "$@"; fi
}

if [[ $DRY_RUN == 1 && -z "$DESTDIR" ]]; then
    echo "install-receiver: --dry-run needs DESTDIR=DIR (where the files go)" >&2
    exit 2
fi
if [[ $DRY_RUN == 0 && $(id -u) -ne 0 ]]; then
    echo "install-receiver: run as root (sudo $0)" >&2
    exit 1
fi

# --- 1. system packages ---------------------------------------------------------------------
say "installing system packages: python3-venv python3-pip"
run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    python3-venv python3-pip

# --- 2. the service user --------------------------------------------------------------------
if ! id -u "$USER_NAME" >/dev/null 2>&1; then
    say "creating system user $USER_NAME"
    run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "capture receiver" "$USER_NAME"
fi

# --- 3. the virtual environment -------------------------------------------------------------
say "installing capture-receiver into $PREFIX/venv"
run install -d -m 0755 "$DESTDIR$PREFIX"
if [[ ! -x "$DESTDIR$PREFIX/venv/bin/python" ]]; then
    run python3 -m venv "$DESTDIR$PREFIX/venv"
fi
run "$DESTDIR$PREFIX/venv/bin/python" -m pip install -q --upgrade pip
run "$DESTDIR$PREFIX/venv/bin/python" -m pip install -q --upgrade "$SRC"

# --- 4. keys, once --------------------------------------------------------------------------
install -d -m 0700 "$DESTDIR$DATA_DIR"
run chown "$USER_NAME:$USER_NAME" "$DESTDIR$DATA_DIR"
if [[ -e "$DESTDIR$DATA_DIR/keys" ]]; then
    say "keeping the existing keys in $DATA_DIR/keys"
else
    init=("$PREFIX/venv/bin/capture-receiver" init --data-dir "$DATA_DIR")
    [[ -n "$NAME" ]] && init+=(--name "$NAME")
    run runuser -u "$USER_NAME" -- "${init[@]}"
fi

# --- 5. systemd unit ------------------------------------------------------------------------
install -d -m 0755 "$DESTDIR$UNIT_DIR"
install -m 0644 "$SRC/systemd/$UNIT" "$DESTDIR$UNIT_DIR/$UNIT"
run systemctl daemon-reload
run systemctl enable "$UNIT"
if [[ $START == 1 ]]; then
    run systemctl restart "$UNIT"
fi

say "done. The receiver listens on TCP 8444 and announces itself by mDNS (UDP 5353):"
say "allow both in the server's firewall for the stations' network."
say "Issue a station's provisioning file with:"
say "  sudo -u $USER_NAME $PREFIX/venv/bin/capture-receiver token --data-dir $DATA_DIR \\"
say "      --name ROOM --out capture-station.toml [--qr capture-station.png]"
