#!/usr/bin/env bash
# Prepares a fresh Debian / Raspberry Pi OS machine (with Node.js 20+) to build and test qrgate: installs the
# system tools the tests use and starts a PostgreSQL the centre's tests can reach. Safe to run again.
#
# usage: sudo scripts/setup-dev.sh        (.ci/run calls it; as a non-root user it uses sudo)
#
# The PostgreSQL it sets up is for a throwaway development or CI machine: 127.0.0.1:5432, database `test`,
# role `root`, trust authentication on 127.0.0.1 only.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# command the tests run -> the Debian package that provides it
declare -A PACKAGE=(
  [mosquitto]=mosquitto
  [mosquitto_sub]=mosquitto-clients
  [socat]=socat
  [psql]=postgresql-client
  [pg_ctlcluster]=postgresql
  [openssl]=openssl
  [shellcheck]=shellcheck
  [systemd-analyze]=systemd
  [ffmpeg]=ffmpeg
  [gpioset]=gpiod
  [udevadm]=udev
  [faketime]=faketime
  [qrencode]=qrencode
  [chromium]=chromium
)
need=()
for cmd in "${!PACKAGE[@]}"; do
  command -v "$cmd" >/dev/null || need+=("${PACKAGE[$cmd]}")
done
# The sd_notify test's datagram socket runs Debian's python3 (a pyenv shim on PATH is not enough).
[ -x /usr/bin/python3 ] || need+=(python3)
# node-hid loads libusb and libudev when a HID scanner is used; the tests load them too.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then need+=(libusb-1.0-0); fi
if ! ldconfig -p 2>/dev/null | grep -q 'libudev.so.1'; then need+=(libudev1); fi
# The kiosk and dashboard tests render Vietnamese with a font a Raspberry Pi OS desktop has.
if ! fc-list 2>/dev/null | grep -qi 'DejaVu Sans'; then need+=(fonts-dejavu-core); fi
# Native modules (better-sqlite3, unix-dgram) compile here when no prebuilt binary is reachable.
command -v make >/dev/null && command -v g++ >/dev/null || need+=(build-essential)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup-dev: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL for the centre's tests: start it if it is installed and down, then make the role and database.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      echo "setup-dev: trust authentication for 127.0.0.1 in $hba (development machine only)"
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    fi
    echo "setup-dev: starting PostgreSQL $version"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break; sleep 1; done
fi
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && ! psql -h 127.0.0.1 -U root -d test -c 'select 1' >/dev/null 2>&1; then
  echo "setup-dev: creating role root and database test"
  $SUDO runuser -u postgres -- psql -q -c "create role root superuser login" 2>/dev/null || true
  $SUDO runuser -u postgres -- createdb -O root test 2>/dev/null || true
fi
echo "setup-dev: ready"
