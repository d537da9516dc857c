import { existsSync, readdirSync, mkdtempSync, openSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { startBroker, freePort, type TestBroker } from "../support/mosquitto.js";

interface Report {
  ok: boolean;
  checks: Array<{ check: string; verdict: "ok" | "info" | "warn" | "fail"; detail: string }>;
}

let dir: string;
let broker: TestBroker;

function config(name: string, body: object): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(body));
  return path;
}

function doctor(configPath: string): { status: number | null; report: Report; text: string } {
  const json = runCli(["doctor", "--config", configPath, "--json"]);
  const text = runCli(["doctor", "--config", configPath]);
  expect(text.status).toBe(json.status);
  return { status: json.status, report: JSON.parse(json.stdout) as Report, text: text.stdout };
}

const failures = (r: Report) => r.checks.filter((c) => c.verdict === "fail").map((c) => `${c.check}: ${c.detail}`);
const line = (r: Report, check: string) => r.checks.filter((c) => c.check === check);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "qrgate-doctor-"));
  broker = await startBroker({ persistence: false });
});

afterAll(async () => {
  await broker.dispose();
});

describe("qrgate doctor", () => {
  it("on a good configuration: every line has a verdict, nothing fails, exit 0", () => {
    const path = config("good.json", { scanner: { type: "stdin" }, relay: { type: "sim" }, mqtt: { url: broker.url }, store: { path: "good.db" } });
    writeFileSync(join(dir, "status.csv"), "001099012345,clear,2,2021-08-01,,1990-01-01,green,\n");
    expect(runCli(["status", "import", join(dir, "status.csv"), "--config", path]).status).toBe(0);

    const { status, report, text } = doctor(path);
    expect(failures(report)).toEqual([]);
    expect(status).toBe(0);
    expect(report.ok).toBe(true);
    for (const name of ["config", "scanner", "serial ports", "HID devices", "video devices", "GPIO", "broker", "store", "status table", "clock", "disk"]) {
      expect(line(report, name).length, name).toBeGreaterThan(0);
    }
    expect(line(report, "broker")[0]).toMatchObject({ verdict: "ok", detail: expect.stringContaining("reachable") as string });
    expect(line(report, "store")[0]).toMatchObject({ verdict: "ok", detail: expect.stringContaining("quick_check ok") as string });
    expect(line(report, "status table")[0]).toMatchObject({ verdict: "ok", detail: expect.stringMatching(/version 1, 1 rows, loaded 0\.0 h ago/) as string });
    expect(text).toMatch(/^ok {4}config/m);
    expect(text).toMatch(/the gate can run here\n$/);
  });

  it("on a broken configuration: names each problem, exit 1", async () => {
    writeFileSync(join(dir, "garbage.db"), "this is not a database, it is a text file that someone copied over it\n".repeat(100));
    const closedPort = await freePort();
    const path = config("broken.json", {
      scanner: { type: "serial", path: "/dev/ttyQRGATE-NOPE" },
      relay: { type: "gpio", pin: 17 },
      mqtt: { url: `mqtt://127.0.0.1:${closedPort}` },
      store: { path: "garbage.db" },
    });
    const { status, report, text } = doctor(path);
    expect(status).toBe(1);
    expect(report.ok).toBe(false);
    const failed = failures(report).join("\n");
    expect(failed).toMatch(/scanner: serial scanner \/dev\/ttyQRGATE-NOPE does not exist/);
    expect(failed).toMatch(/store: .*garbage\.db.*not a database/);
    if (!existsSync("/sys/class/gpio") && !readdirSync("/dev").some((n) => n.startsWith("gpiochip"))) {
      expect(failed).toMatch(/GPIO: no GPIO on this machine/);
    }
    // The gate works offline, so a broker that does not answer is a warning, not a failure.
    expect(line(report, "broker")[0]).toMatchObject({ verdict: "warn", detail: expect.stringContaining("not reachable") as string });
    expect(text).toMatch(/^FAIL {2}scanner/m);
    expect(text).toMatch(/the gate cannot work like this/);
  });

  it("finds damage inside a store that still opens (PRAGMA quick_check)", () => {
    const db = new Database(join(dir, "damaged.db"));
    db.exec("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v)");
    const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) ins.run(`row ${i} ${"x".repeat(40)}`);
    })();
    db.close();
    const fd = openSync(join(dir, "damaged.db"), "r+");
    const junk = Buffer.alloc(3000, 0x5a);
    writeSync(fd, junk, 0, junk.length, 4096 * 12 + 8);
    closeSync(fd);
    const { status, report } = doctor(config("damaged.json", { store: { path: "damaged.db" }, mqtt: { url: broker.url } }));
    expect(status).toBe(1);
    expect(failures(report).join("\n")).toMatch(/store: .*damaged\.db.*(quick_check found damage|malformed)/);
  });

  it("a camera scanner with no webcam: says which device and program are missing", () => {
    const path = config("camera.json", { scanner: { type: "camera", camera: { source: "usb", device: "/dev/video-qrgate-none" } }, mqtt: { url: broker.url }, store: { path: "cam.db" } });
    const { status, report } = doctor(path);
    expect(status).toBe(1);
    expect(failures(report)).toContain("scanner: camera /dev/video-qrgate-none does not exist: is the webcam plugged in?");
    expect(line(report, "scanner").map((c) => c.detail)).toContain("QR decoder (zxing-wasm) is installed; it loads offline");
  });

  it("an invalid configuration is a FAIL line per problem, and the machine is still checked", () => {
    const path = config("invalid.json", { scanner: { type: "camera", camera: { width: 5 } }, relay: { pulseMs: "x" } });
    const { status, report } = doctor(path);
    expect(status).toBe(1);
    expect(failures(report)).toEqual(expect.arrayContaining([expect.stringMatching(/^config: .*scanner\.camera\.width/), expect.stringMatching(/^config: .*relay\.pulseMs: must be integer/)]));
    expect(line(report, "disk").length).toBe(1);
  });

  it("without udevadm (a bare machine) says serial ports cannot be listed, rather than crash", () => {
    const path = config("bare.json", { mqtt: { url: broker.url }, store: { path: "bare.db" } });
    const r = runCli(["doctor", "--config", path, "--json"], { env: { PATH: join(dir, "empty-path") } });
    const report = JSON.parse(r.stdout) as Report;
    expect(line(report, "serial ports")[0]).toEqual({
      check: "serial ports",
      verdict: "warn",
      detail: "cannot list serial ports: node-serialport's list needs udevadm (Debian package udev), which is not installed",
    });
    expect(r.status).toBe(0);
  });

  it("a missing --config file is one line on stderr and exit 2", () => {
    const r = runCli(["doctor", "--config", join(dir, "nope.json")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^qrgate: doctor: no configuration file .*nope\.json\n$/);
  });
});
