/**
 * The checks behind `qrgate doctor`: each looks at one thing the gate needs on this machine and returns a
 * verdict with a sentence a technician can act on. A check never throws: whatever goes wrong is its verdict.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync, statfsSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { alsoScanners, type Config } from "../config/config.js";
import { cameraCommand, onPath } from "../drivers/camera/camera-command.js";
import { readerWasmPath } from "../drivers/camera/qr-decoder.js";
import { cameraConfigProblems } from "../drivers/driver-factory.js";
import { SETTING } from "../store/settings.js";

export type Verdict = "ok" | "warn" | "fail" | "info";

export interface Check {
  readonly check: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

const HOUR_MS = 3_600_000;
const MB = 1024 * 1024;

const c = (check: string, verdict: Verdict, detail: string): Check => ({ check, verdict, detail });

/** The name of a group id, from /etc/group. */
function groupName(gid: number): string {
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name !== undefined && Number(id) === gid) return name;
    }
  } catch {
    // no /etc/group: fall back to the number
  }
  return String(gid);
}

/** Whether this process may read and write a device node; when not, which group would let it. */
function deviceAccess(path: string): { ok: boolean; group: string } {
  const group = groupName(statSync(path).gid);
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return { ok: true, group };
  } catch {
    return { ok: false, group };
  }
}

function run(cmd: string, args: string[], timeoutMs = 3000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8" }, (e, out, err) => {
      const code = e === null ? 0 : typeof (e as NodeJS.ErrnoException).code === "number" ? Number((e as NodeJS.ErrnoException).code) : null;
      resolve({ code, out, err });
    });
  });
}

export function configuredScanner(cfg: Config): Check[] {
  const s = cfg.scanner;
  switch (s.type) {
    case "stdin":
    case "sim":
      return [c("scanner", "info", `type ${s.type}: no scanner device is used`)];
    case "hid":
      return [c("scanner", "info", "type hid: see the HID devices line")];
    case "serial": {
      const path = s.path ?? "";
      if (!existsSync(path)) return [c("scanner", "fail", `serial scanner ${path} does not exist: is it plugged in, is the path right?`)];
      const a = deviceAccess(path);
      return [a.ok ? c("scanner", "ok", `serial scanner ${path} can be opened`) : c("scanner", "fail", `no permission to open ${path}: add the qrgate user to group '${a.group}'`)];
    }
    case "camera": {
      const out: Check[] = [];
      for (const p of cameraConfigProblems(cfg)) out.push(c("scanner", "fail", p));
      const cam = s.camera;
      const argv = cameraCommand(cam).argv;
      const program = argv[0];
      if (program === undefined) return out;
      const found = isAbsolute(program) ? existsSync(program) : onPath(program);
      out.push(found ? c("scanner", "ok", `camera program ${program} is installed`) : c("scanner", "fail", `camera program ${program} is not installed or not on PATH${cam.source === "pi" ? " (Debian package rpicam-apps)" : program === "ffmpeg" ? " (Debian package ffmpeg)" : ""}`));
      if (cam.source === "pi" && cam.width % 64 !== 0) {
        out.push(c("scanner", "warn", `camera width ${cam.width} is not a multiple of 64: rpicam-vid may pad its rows and skew every frame`));
      }
      if (cam.source === "usb") {
        if (!existsSync(cam.device)) out.push(c("scanner", "fail", `camera ${cam.device} does not exist: is the webcam plugged in?`));
        else {
          const a = deviceAccess(cam.device);
          out.push(a.ok ? c("scanner", "ok", `camera ${cam.device} can be opened`) : c("scanner", "fail", `no permission to open ${cam.device}: add the qrgate user to group '${a.group}'`));
        }
      }
      out.push(existsSync(readerWasmPath()) ? c("scanner", "ok", "QR decoder (zxing-wasm) is installed; it loads offline") : c("scanner", "fail", "zxing-wasm's reader .wasm is missing: reinstall qrgate"));
      return out;
    }
  }
}

/** USB vendors of fixed-mount and handheld barcode scanners, by vendor id (lowercase hex). */
const SCANNER_VENDORS: Record<string, string> = {
  "0c2e": "Honeywell",
  "0536": "Hand Held Products",
  "05e0": "Zebra (Symbol)",
  "05f9": "Datalogic",
  "1eab": "Newland",
};

function vendorNote(vendorId: string | undefined): string {
  const name = vendorId === undefined ? undefined : SCANNER_VENDORS[vendorId.toLowerCase()];
  return name === undefined ? "" : `, a ${name} scanner`;
}

export async function serialPorts(): Promise<Check> {
  if (!onPath("udevadm")) {
    return c("serial ports", "warn", "cannot list serial ports: node-serialport's list needs udevadm (Debian package udev), which is not installed");
  }
  try {
    const { SerialPort } = await import("serialport");
    const ports = await SerialPort.list();
    // USB CDC-ACM and USB-serial devices carry a vendor id; the board's own UARTs (ttyS*, ttyAMA*) do not.
    const usb = ports.filter((p) => p.vendorId !== undefined);
    if (usb.length === 0) return c("serial ports", "info", `no USB serial device (scanners in serial mode show up as /dev/ttyACM*); ${ports.length} other port(s)`);
    return c("serial ports", "ok", usb.map((p) => `${p.path} (${p.manufacturer ?? "?"} ${p.vendorId}:${p.productId ?? "?"}${vendorNote(p.vendorId)})`).join(", "));
  } catch (e) {
    return c("serial ports", "warn", `cannot list serial ports: ${(e as Error).message}`);
  }
}

export async function hidDevices(): Promise<Check> {
  let hid: { devices(): Array<{ vendorId: number; productId: number; path?: string; product?: string; usagePage?: number; usage?: number }> };
  try {
    hid = ((await import("node-hid")) as unknown as { default: typeof hid }).default;
  } catch (e) {
    return c("HID devices", "warn", `node-hid cannot load (needs libusb-1.0-0 and libudev1): ${(e as Error).message.split("\n")[0] ?? ""}`);
  }
  try {
    const all = hid.devices();
    const pos = all.filter((d) => d.usagePage === 0x8c);
    const hex = (n: number) => n.toString(16).padStart(4, "0");
    // Keyboards are only listed when their vendor makes scanners: every PC has a keyboard.
    const keyboards = all.filter((d) => d.usagePage === 1 && d.usage === 6 && SCANNER_VENDORS[hex(d.vendorId)] !== undefined);
    const names = [
      ...pos.map((d) => `${hex(d.vendorId)}:${hex(d.productId)} ${d.product ?? ""} (HID POS${vendorNote(hex(d.vendorId))})`),
      ...keyboards.map((d) => `${hex(d.vendorId)}:${hex(d.productId)} ${d.product ?? ""} (keyboard mode${vendorNote(hex(d.vendorId))}: it loses non-ASCII such as Vietnamese names; switch it to HID POS or serial)`),
    ];
    if (names.length === 0) return c("HID devices", "info", `no HID POS scanner or keyboard-mode device among ${all.length} HID device(s)`);
    return c("HID devices", "ok", names.join(", "));
  } catch (e) {
    return c("HID devices", "warn", `cannot list HID devices: ${(e as Error).message}`);
  }
}

export function videoDevices(cfg: Config): Check {
  let names: string[] = [];
  try {
    names = readdirSync("/dev").filter((n) => /^video\d+$/.test(n)).sort();
  } catch {
    // no /dev: treated as none
  }
  const needed = [cfg.scanner, ...alsoScanners(cfg)].some((s) => s.type === "camera" && s.camera.source === "usb");
  if (names.length === 0) {
    return c("video devices", needed ? "fail" : "info", "no /dev/video* device (USB webcams and Pi cameras appear there)");
  }
  const parts = names.map((n) => {
    const a = deviceAccess(`/dev/${n}`);
    return a.ok ? `/dev/${n}` : `/dev/${n} (no access: group '${a.group}')`;
  });
  return c("video devices", "ok", parts.join(", "));
}

export function gpio(cfg: Config): Check {
  const needed = cfg.relay.type === "gpio";
  const bad: Verdict = needed ? "fail" : "info";
  let chips: string[] = [];
  try {
    chips = readdirSync("/dev").filter((n) => /^gpiochip\d+$/.test(n)).sort();
  } catch {
    // no /dev
  }
  const sysfs = existsSync("/sys/class/gpio");
  const use = needed ? "" : " (not used: relay.type is sim)";
  if (chips.length === 0 && !sysfs) return c("GPIO", bad, `no GPIO on this machine: neither /dev/gpiochip* nor /sys/class/gpio${use}`);
  const denied = chips.map((n) => ({ n, a: deviceAccess(`/dev/${n}`) })).filter((x) => !x.a.ok);
  if (denied.length > 0) {
    return c("GPIO", bad, `no access to ${denied.map((d) => `/dev/${d.n}`).join(", ")}: add the qrgate user to group '${denied[0]?.a.group ?? "gpio"}'${use}`);
  }
  return c("GPIO", needed ? "ok" : "info", `${chips.length > 0 ? chips.map((n) => `/dev/${n}`).join(", ") : "sysfs GPIO"} accessible${use}`);
}

export async function broker(cfg: Config): Promise<Check> {
  const m = cfg.mqtt;
  const tls = m.url.startsWith("mqtts:") || m.url.startsWith("wss:");
  let files: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  try {
    files = {
      ...(m.ca !== undefined ? { ca: readFileSync(m.ca) } : {}),
      ...(m.cert !== undefined ? { cert: readFileSync(m.cert) } : {}),
      ...(m.key !== undefined ? { key: readFileSync(m.key) } : {}),
    };
  } catch (e) {
    return c("broker", "fail", `cannot read a TLS file of mqtt: ${(e as Error).message}`);
  }
  const mqtt = await import("mqtt");
  try {
    const client = await mqtt.connectAsync(m.url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 4000,
      clientId: `qrgate-doctor-${process.pid}`,
      ...(m.username !== undefined ? { username: m.username } : {}),
      ...(m.password !== undefined ? { password: m.password } : {}),
      ...files,
    });
    await client.endAsync();
    return c("broker", "ok", `${m.url} reachable${tls ? ", TLS certificate verified" : " (no TLS: traffic is readable on the network)"}`);
  } catch (e) {
    const msg = (e as Error).message;
    const why = /certificate|self.signed|unable to verify/i.test(msg) ? `TLS: ${msg} (set mqtt.ca to the broker's CA file)` : msg;
    // The gate works offline (entries wait in the outbox), so an unreachable broker is not fatal.
    return c("broker", "warn", `${m.url} not reachable: ${why}; entries will wait in the outbox`);
  }
}

/** Store, status-table and trusted-time checks (one read-only open of the SQLite file). */
export async function store(cfg: Config, nowMs: number): Promise<Check[]> {
  const path = cfg.store.path;
  if (!existsSync(path)) {
    const dir = dirname(path);
    let probe = dir;
    while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
    try {
      accessSync(probe, constants.W_OK);
      return [c("store", "warn", `${path} does not exist yet; the gate creates it at start`), c("status table", "warn", "never loaded: every code is denied unknown_subject until a status import or sync")];
    } catch {
      return [c("store", "fail", `${path} does not exist and ${probe} is not writable`)];
    }
  }
  const { default: Database } = await import("better-sqlite3");
  let db;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    return [c("store", "fail", `cannot open ${path}: ${(e as Error).message}`)];
  }
  try {
    const out: Check[] = [];
    let rows: Array<{ quick_check: string }>;
    try {
      rows = db.prepare("PRAGMA quick_check").all() as Array<{ quick_check: string }>;
    } catch (e) {
      return [c("store", "fail", `${path}: ${(e as Error).message}`)];
    }
    const first = rows[0]?.quick_check;
    if (rows.length === 1 && first === "ok") out.push(c("store", "ok", `${path}: quick_check ok`));
    else out.push(c("store", "fail", `${path}: quick_check found damage: ${rows.slice(0, 3).map((r) => r.quick_check).join("; ")}`));
    try {
      accessSync(path, constants.W_OK);
    } catch {
      out.push(c("store", "fail", `${path} is not writable by this user`));
    }
    const setting = (key: string): number | undefined => {
      try {
        const r = db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | undefined;
        const n = r === undefined ? NaN : Number(r.value);
        return Number.isFinite(n) ? n : undefined;
      } catch {
        return undefined;
      }
    };
    const updated = setting(SETTING.statusUpdatedMs);
    const version = setting(SETTING.statusVersion) ?? 0;
    const count = setting(SETTING.statusRows) ?? 0;
    const maxH = cfg.policy.maxCacheAgeHours;
    if (updated === undefined || version === 0) out.push(c("status table", "warn", "never loaded: every code is denied unknown_subject until a status import or sync"));
    else {
      const ageH = (nowMs - updated) / HOUR_MS;
      const line = `version ${version}, ${count} rows, loaded ${ageH.toFixed(1)} h ago`;
      out.push(ageH > maxH ? c("status table", "warn", `${line}: older than maxCacheAgeHours ${maxH}, entries are marked stale`) : c("status table", "ok", line));
    }
    const trusted = setting(SETTING.trustedWallMs);
    if (trusted !== undefined && nowMs < trusted - 60_000) {
      out.push(c("clock", "fail", `the clock reads ${new Date(nowMs).toISOString()}, before the last trusted time ${new Date(trusted).toISOString()}: no RTC and no NTP yet?`));
    }
    return out;
  } finally {
    db.close();
  }
}

export async function clockSync(nowMs: number): Promise<Check> {
  if (new Date(nowMs).getUTCFullYear() < 2024) {
    return c("clock", "fail", `the clock reads ${new Date(nowMs).toISOString()}: a Pi has no RTC; set up NTP (systemd-timesyncd or chrony)`);
  }
  if (existsSync("/run/systemd/timesync/synchronized")) return c("clock", "ok", "synchronised (systemd-timesyncd)");
  if (onPath("timedatectl")) {
    const r = await run("timedatectl", ["show", "-p", "NTPSynchronized", "--value"]);
    if (r.code === 0 && r.out.trim() === "yes") return c("clock", "ok", "synchronised (NTP)");
    if (r.code === 0 && r.out.trim() === "no") return c("clock", "warn", "not synchronised: a Pi has no RTC, so entry times may be wrong until NTP answers");
  }
  if (onPath("chronyc")) {
    const r = await run("chronyc", ["-n", "tracking"]);
    if (r.code === 0 && /Leap status\s*:\s*Normal/.test(r.out)) return c("clock", "ok", "synchronised (chrony)");
  }
  return c("clock", "warn", "cannot tell whether the clock is synchronised (no systemd-timesyncd or chrony answering); a Pi has no RTC");
}

export function disk(cfg: Config): Check {
  let probe = dirname(cfg.store.path);
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    const s = statfsSync(probe);
    const free = s.bavail * s.bsize;
    const text = `${(free / MB).toFixed(0)} MB free on the store's file system (${probe})`;
    if (free < 100 * MB) return c("disk", "fail", `${text}: the journal needs room; entries may be refused journal_unavailable`);
    if (free < 1024 * MB) return c("disk", "warn", text);
    return c("disk", "ok", text);
  } catch (e) {
    return c("disk", "warn", `cannot tell free space under ${probe}: ${(e as Error).message}`);
  }
}
