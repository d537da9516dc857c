#!/usr/bin/env bash
# Installs qrgate on Raspberry Pi OS or Debian from this checkout (after `npm ci && npm run build`):
#   - Node.js from Debian's packages if it is missing or older than 20
#   - the `qrgate` system user, in the groups gpio, dialout, video and plugdev (those that exist)
#   - the app under /opt/qrgate with production dependencies only, and /usr/local/bin/qrgate
#   - a udev rule for the configured scanner, /etc/qrgate (config, provisioning keys), the systemd unit, enabled
# Running it again changes nothing that is already in place. `--uninstall` removes what it installed (the config
# in /etc/qrgate and the data in /var/lib/qrgate stay unless `--purge`).
#
# usage: sudo scripts/install.sh [--config FILE] [--provisioning-keys FILE] [--scanner SPEC] [--no-start]
#        sudo scripts/install.sh --uninstall [--purge]
#        scripts/install.sh --root DIR …      install into DIR as if it were / (for tests and image builds): no
#                                             apt-get, useradd, chown, systemctl or udevadm; those are printed
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT=""
CONFIG=""
PROV_KEYS=""
SCANNER=""
START=1
UNINSTALL=0
PURGE=0

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
  echo "install.sh: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a folder"; ROOT="$(realpath -m "$2")"; shift 2 ;;
    --config) [ $# -ge 2 ] || die "--config needs a file"; CONFIG="$2"; shift 2 ;;
    --provisioning-keys) [ $# -ge 2 ] || die "--provisioning-keys needs a file"; PROV_KEYS="$2"; shift 2 ;;
    --scanner) [ $# -ge 2 ] || die "--scanner needs serial:PATH or hid:VID:PID"; SCANNER="$2"; shift 2 ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# Check the scanner spec before changing anything.
case "$SCANNER" in
  "") ;;
  serial:*) [[ "$SCANNER" =~ ^serial:/dev/[A-Za-z0-9/._:-]+$ ]] || die "--scanner serial:PATH needs a /dev/… path, got '$SCANNER'" ;;
  hid:*:*) [[ "$SCANNER" =~ ^hid:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$ ]] || die "--scanner hid:VID:PID needs 4 hex digits each, got '$SCANNER'" ;;
  *) die "--scanner must be serial:PATH or hid:VID:PID, got '$SCANNER'" ;;
esac

APP="$ROOT/opt/qrgate"
BIN="$ROOT/usr/local/bin/qrgate"
ETC="$ROOT/etc/qrgate"
STATE="$ROOT/var/lib/qrgate"
UNIT="$ROOT/etc/systemd/system/qrgate.service"
COLLECT_UNIT="$ROOT/etc/systemd/system/qrgate-collect.service"
UDEV_RULE="$ROOT/etc/udev/rules.d/70-qrgate-scanner.rules"
CHANGED=0

say() { echo "qrgate install: $*"; }
changed() { CHANGED=1; say "$*"; }

# Runs a command that touches the system outside the files this script writes; with --root it is only printed.
system() {
  if [ -n "$ROOT" ]; then
    echo "qrgate install: (--root: skipped) $*"
  else
    "$@"
  fi
}

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo $0 …), or with --root DIR"
fi

# Writes stdin to a file (mode $2) only when its content differs, so a second run leaves it alone.
put() {
  local dest="$1" mode="$2" tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    # Permissions can drift even when the content did not.
    if [ "$(stat -c %a "$dest")" != "${mode#0}" ]; then chmod "$mode" "$dest"; changed "mode $mode on $dest"; fi
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" "$tmp" "$dest"
  rm -f "$tmp"
  changed "wrote $dest"
}

# Copies a file or folder of the app when it differs from what is installed.
sync_item() {
  local from="$SRC/$1" to="$APP/$1"
  [ -e "$from" ] || return 0
  if [ -e "$to" ] && diff -rq "$from" "$to" >/dev/null 2>&1; then return 0; fi
  rm -rf "$to"
  mkdir -p "$(dirname "$to")"
  cp -a "$from" "$to"
  changed "installed $to"
}

uninstall() {
  if [ -z "$ROOT" ] && command -v systemctl >/dev/null && [ -f "$UNIT" ]; then
    systemctl disable --now qrgate.service >/dev/null 2>&1 || true
  fi
  for f in "$UNIT" "$COLLECT_UNIT" "$BIN" "$UDEV_RULE"; do
    if [ -e "$f" ]; then rm -f "$f"; changed "removed $f"; fi
  done
  if [ -d "$APP" ]; then rm -rf "$APP"; changed "removed $APP"; fi
  if [ "$PURGE" -eq 1 ]; then
    for d in "$ETC" "$STATE"; do
      if [ -d "$d" ]; then rm -rf "$d"; changed "removed $d"; fi
    done
    if [ -z "$ROOT" ] && id qrgate >/dev/null 2>&1; then userdel qrgate; changed "removed user qrgate"; fi
  fi
  if [ -z "$ROOT" ] && command -v systemctl >/dev/null; then systemctl daemon-reload || true; fi
  if [ -z "$ROOT" ] && command -v udevadm >/dev/null; then udevadm control --reload || true; fi
  [ "$CHANGED" -eq 1 ] || say "nothing to remove"
}

if [ "$UNINSTALL" -eq 1 ]; then
  uninstall
  exit 0
fi

# 1. Node.js 20 or newer, from Debian.
node_ok() {
  command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] && command -v npm >/dev/null
}
if ! node_ok; then
  system apt-get update -qq
  system env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  if [ -z "$ROOT" ]; then node_ok || die "Node.js 20 or newer is needed; Debian's nodejs package here is older"; changed "installed nodejs"; fi
fi

# 2. The app, built.
[ -f "$SRC/dist/src/cli/main.js" ] || die "$SRC/dist is missing: run 'npm ci && npm run build' in $SRC first"
mkdir -p "$APP"
for item in dist device-config systemd scripts package.json package-lock.json README.md LICENSE; do
  sync_item "$item"
done

# 3. Production dependencies only. From this checkout's node_modules when there is one (offline, and its native
# modules were built on this machine), else from the registry. A stamp of the lock file makes a second run a no-op.
lock_sum="$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1)"
stamp="$APP/.deps-installed"
if [ ! -d "$APP/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  rm -rf "$APP/node_modules"
  if [ -d "$SRC/node_modules" ]; then
    cp -a "$SRC/node_modules" "$APP/node_modules"
    (cd "$APP" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
  else
    (cd "$APP" && npm ci --omit=dev --no-audit --no-fund >/dev/null)
  fi
  # npm rewrites the lock file to what it installed; keep the shipped one, so the next run finds nothing to copy.
  cp -a "$SRC/package-lock.json" "$APP/package-lock.json"
  echo "$lock_sum" >"$stamp"
  changed "installed production dependencies in $APP/node_modules"
fi

# The app belongs to root, whoever owns the checkout it came from: the service must not run code its user (or the
# developer who built it) can change.
if [ -z "$ROOT" ] && [ "$CHANGED" -eq 1 ]; then chown -R root:root "$APP"; fi

# 4. qrgate on the PATH.
put "$BIN" 0755 <<'EOF'
#!/bin/sh
# Installed by qrgate's scripts/install.sh.
exec /usr/bin/env node /opt/qrgate/dist/src/cli/main.js "$@"
EOF

# 5. The service user and its groups (only those that exist on this system).
groups_wanted=()
for g in gpio dialout video plugdev; do
  if getent group "$g" >/dev/null; then groups_wanted+=("$g"); fi
done
if [ -z "$ROOT" ]; then
  if ! id qrgate >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/qrgate --no-create-home --shell /usr/sbin/nologin qrgate
    changed "created user qrgate"
  fi
  for g in "${groups_wanted[@]}"; do
    if ! id -nG qrgate | tr ' ' '\n' | grep -qx "$g"; then usermod -aG "$g" qrgate; changed "added qrgate to group $g"; fi
  done
else
  system useradd --system --home-dir /var/lib/qrgate --no-create-home --shell /usr/sbin/nologin qrgate
  system usermod -aG "$(IFS=,; echo "${groups_wanted[*]}")" qrgate
fi

# 6. /etc/qrgate: root-owned, group qrgate may write (a provisioning code writes config.json there).
mkdir -p "$ETC" "$STATE"
chmod 0770 "$ETC"
chmod 0700 "$STATE"
if [ -z "$ROOT" ]; then chown root:qrgate "$ETC"; chown qrgate:qrgate "$STATE"; fi
if [ -n "$CONFIG" ]; then
  [ -f "$CONFIG" ] || die "--config $CONFIG does not exist"
  put "$ETC/config.json" 0640 <"$CONFIG"
  if [ -z "$ROOT" ]; then chown root:qrgate "$ETC/config.json"; fi
  # The files it names by a relative path (CA, client certificate and key, key sets) go with it, as
  # `qrgate provision --out DIR` leaves them beside the config.
  config_dir="$(cd "$(dirname "$CONFIG")" && pwd)"
  while IFS= read -r rel; do
    [ -n "$rel" ] || continue
    [ -f "$config_dir/$rel" ] || die "$CONFIG names $rel, which is not beside it"
    put "$ETC/$rel" 0640 <"$config_dir/$rel"
    if [ -z "$ROOT" ]; then chown root:qrgate "$ETC/$rel"; fi
  done < <(node -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const m = c.mqtt || {}, p = c.passes || {}, k = c.centre || {};
    for (const f of [m.ca, m.cert, m.key, p.issuerKeys, k.publicKey, c.provisioningKeys])
      if (typeof f === "string" && !f.startsWith("/") && !f.includes("..")) console.log(f);
  ' "$CONFIG")
fi
if [ -n "$PROV_KEYS" ]; then
  [ -f "$PROV_KEYS" ] || die "--provisioning-keys $PROV_KEYS does not exist"
  put "$ETC/provisioning-keys.jwks.json" 0644 <"$PROV_KEYS"
fi
# First boot by QR code: a provisioning config naming the scanner, so the gate reads the code from it.
if [ ! -f "$ETC/config.json" ] && [ -n "$PROV_KEYS" ]; then
  case "$SCANNER" in
    serial:?*)
      # shellcheck disable=SC2016 # "$schema" is a JSON key, not a shell variable
      printf '{\n  "$schema": "/opt/qrgate/device-config/schema.json",\n  "provisioning": true,\n  "scanner": { "type": "serial", "path": "%s" },\n  "store": { "path": "/var/lib/qrgate/qrgate.db" }\n}\n' "${SCANNER#serial:}" |
        put "$ETC/config.json" 0660
      if [ -z "$ROOT" ]; then chown root:qrgate "$ETC/config.json"; fi
      ;;
    *) say "no --scanner serial:PATH: the gate waits for a provisioning code on its default scanner; install a config with \"provisioning\": true naming the scanner" ;;
  esac
fi
if [ -f "$ETC/config.json" ]; then
  if [ -z "$ROOT" ]; then
    runuser -u qrgate -- "$BIN" config check --config /etc/qrgate/config.json || say "the configuration has problems (above); the gate will not start until they are fixed"
  else
    node "$APP/dist/src/cli/main.js" config check --config "$ETC/config.json" || say "the configuration has problems (above)"
  fi
fi

# 7. udev rule for the scanner: --scanner, else what the config names. hidraw nodes are root-only by default.
if [ -z "$SCANNER" ] && [ -f "$ETC/config.json" ]; then
  SCANNER="$(node -e '
    const s = (JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).scanner) || {};
    // vendorId/productId: a number, or hex as lsusb shows it ("0c2e", "0x0c2e").
    const hex = (n) => (typeof n === "string" ? parseInt(n.replace(/^0x/i, ""), 16) : Number(n)).toString(16).padStart(4, "0");
    if (s.type === "serial" && s.path) console.log("serial:" + s.path);
    else if (s.type === "hid" && s.vendorId !== undefined && s.productId !== undefined) console.log("hid:" + hex(s.vendorId) + ":" + hex(s.productId));
  ' "$ETC/config.json")"
fi
rule=""
case "$SCANNER" in
  hid:*:*)
    vid="$(echo "$SCANNER" | cut -d: -f2 | tr 'A-F' 'a-f')"
    pid="$(echo "$SCANNER" | cut -d: -f3 | tr 'A-F' 'a-f')"
    rule="SUBSYSTEM==\"hidraw\", ATTRS{idVendor}==\"$vid\", ATTRS{idProduct}==\"$pid\", GROUP=\"plugdev\", MODE=\"0660\", SYMLINK+=\"qrgate-scanner\""
    ;;
  serial:/dev/tty*)
    kernel="$(basename "${SCANNER#serial:}")"
    rule="SUBSYSTEM==\"tty\", KERNEL==\"$kernel\", GROUP=\"dialout\", MODE=\"0660\""
    ;;
  *) ;;
esac
if [ -n "$rule" ]; then
  printf '# qrgate scanner (written by scripts/install.sh)\n%s\n' "$rule" | put "$UDEV_RULE" 0644
  if [ "$CHANGED" -eq 1 ] && command -v udevadm >/dev/null; then
    system udevadm control --reload
    system udevadm trigger
  fi
fi

# 8. The systemd units; the gate's enabled (and started when it has a config or provisioning keys).
put "$UNIT" 0644 <"$SRC/systemd/qrgate.service"
put "$COLLECT_UNIT" 0644 <"$SRC/systemd/qrgate-collect.service"
if [ -z "$ROOT" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if ! systemctl is-enabled --quiet qrgate.service; then systemctl enable qrgate.service; changed "enabled qrgate.service"; fi
  if [ "$START" -eq 1 ] && { [ -f "$ETC/config.json" ] || [ -f "$ETC/provisioning-keys.jwks.json" ]; }; then
    if ! systemctl is-active --quiet qrgate.service; then systemctl start qrgate.service; changed "started qrgate.service"; fi
  fi
else
  system systemctl enable qrgate.service
fi

if [ "$CHANGED" -eq 0 ]; then say "nothing to change: already installed"; else say "done"; fi
