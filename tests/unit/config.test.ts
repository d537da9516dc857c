import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { loadConfig, validateConfig } from "../../src/config/load-config.js";
import { runCli } from "../support/cli.js";
import { trimPseudonymKey } from "../../src/contract/pseudonym-key.js";

function problems(raw: unknown): readonly string[] {
  try {
    validateConfig(raw, "test");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe("device configuration", () => {
  it("fills every default into an empty configuration (the simulator)", () => {
    const c = validateConfig({}, "test");
    expect(c).toMatchObject({
      site: "demo",
      scanner: { type: "stdin", suffix: "auto" },
      relay: { type: "sim", pulseMs: 3000 },
      mqtt: { url: "mqtt://127.0.0.1:1883", root: "qrgate/v1" },
      store: { retentionDays: 21 },
      passes: { skewS: 30 },
      policy: { minDoses: 2, recoveryValidDays: 180, denyZones: ["red"], unknown: "deny", maxCacheAgeHours: 72, timeZone: "Asia/Ho_Chi_Minh" },
      budgetMs: 2000,
      dedupMs: 1500,
    });
  });

  it("refuses a policy.timeZone this Node does not know", () => {
    expect(problems({ policy: { timeZone: "Mars/Olympus" } })).toEqual(["policy.timeZone: unknown time zone 'Mars/Olympus'"]);
  });

  it("lists every problem with the path of its key", () => {
    expect(
      problems({ site: "HQ 1", relay: { pulseMs: "3000" }, scanner: { type: "serial" }, budgetMs: -1, colour: "red", policy: { unknown: "maybe" } }),
    ).toEqual(
      expect.arrayContaining([
        "(top level): unknown key 'colour'",
        'site: must match pattern "^(?!all$)[a-z0-9-]{1,64}$"',
        "relay.pulseMs: must be integer",
        "scanner: missing required key 'path'",
        "budgetMs: must be >= 50",
        'policy.unknown: must be one of "deny", "allow"',
      ]),
    );
  });

  it("refuses the reserved device name 'all'", () => {
    expect(problems({ device: "all" })).toHaveLength(1);
  });

  it("accepts every example configuration shipped in device-config/examples", () => {
    const dir = new URL("../../device-config/examples/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    // The examples name files on a provisioned gate (/etc/qrgate/ca.pem), not on this machine.
    for (const f of files) expect(() => loadConfig(new URL(f, dir).pathname, {}, { checkFiles: false }), f).not.toThrow();
  });

  it("says which file is not JSON, and where", () => {
    const p = join(mkdtempSync(join(tmpdir(), "qrgate-cfg-")), "c.json");
    writeFileSync(p, '{"site": "a",}');
    expect(() => loadConfig(p)).toThrow(/c\.json:\n {2}- not valid JSON/);
  });

  it("resolves relative paths from the config file's folder, and takes $QRGATE_CONFIG", () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-cfg-"));
    const p = join(dir, "c.json");
    writeFileSync(p, JSON.stringify({ store: { path: "db/gate.db" }, passes: { issuerKeys: "keys.json" } }));
    writeFileSync(join(dir, "keys.json"), '{"keys": []}');
    const { config, source } = loadConfig(undefined, { QRGATE_CONFIG: p });
    expect(source).toEqual({ kind: "file", path: p });
    expect(config.store.path).toBe(join(dir, "db/gate.db"));
    expect(config.passes.issuerKeys).toBe(join(dir, "keys.json"));
  });

  it("names each file key whose file is missing or unreadable when the config is loaded", () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-cfg-"));
    const p = join(dir, "c.json");
    writeFileSync(join(dir, "client.pem"), "x");
    writeFileSync(p, JSON.stringify({ mqtt: { url: "mqtts://broker:8883", ca: "ca.pem", cert: "client.pem", key: dir } }));
    let err: unknown;
    try {
      loadConfig(p, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      `mqtt.ca: cannot read ${join(dir, "ca.pem")}: no such file`,
      `mqtt.key: ${dir} is not a file`,
    ]);
  });

  it("refuses relay.maxPulseMs smaller than relay.pulseMs, naming both keys", () => {
    expect(problems({ relay: { pulseMs: 5000, maxPulseMs: 2000 } })).toEqual([
      "relay.maxPulseMs (2000) is smaller than relay.pulseMs (5000): the longest release cannot be shorter than one pulse",
    ]);
    expect(problems({ relay: { pulseMs: 5000, maxPulseMs: 5000 } })).toEqual([]);
  });
});

describe("clear IDs over a plaintext link", () => {
  const KEY = "a".repeat(64);
  it.each([
    "mqtt://broker.example.vn:1883",
    "ws://10.0.0.5:9001/mqtt",
    "mqtt://[2001:db8::1]:1883",
    "mqtt://127.example.com",
  ])("refuses %s without pseudonymize.key, naming both ways out", (url) => {
    const p = problems({ mqtt: { url } });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^mqtt\.url: entries carry clear citizen IDs/);
    expect(p[0]).toContain("mqtts:// or wss://");
    expect(p[0]).toContain("pseudonymize.key");
    expect(p[0]).toContain("mqtt.allowPlaintext: true");
  });

  it.each([
    ["TLS", { mqtt: { url: "mqtts://broker.example.vn:8883" } }],
    ["websocket TLS", { mqtt: { url: "wss://broker.example.vn/mqtt" } }],
    ["loopback 127.0.0.1", { mqtt: { url: "mqtt://127.0.0.1:1883" } }],
    ["loopback 127.1.2.3", { mqtt: { url: "mqtt://127.1.2.3:1883" } }],
    ["localhost", { mqtt: { url: "mqtt://localhost:1883" } }],
    ["::1", { mqtt: { url: "mqtt://[::1]:1883" } }],
    ["pseudonymized entries", { mqtt: { url: "mqtt://broker.example.vn" }, pseudonymize: { key: KEY } }],
    ["allowPlaintext", { mqtt: { url: "mqtt://broker.example.vn", allowPlaintext: true } }],
  ])("accepts %s", (_what, raw) => {
    expect(problems(raw)).toEqual([]);
  });

  it("refuses it when the gate starts, in one line per problem and exit 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-cfg-"));
    const p = join(dir, "c.json");
    writeFileSync(p, JSON.stringify({ store: { path: "g.db" }, mqtt: { url: "mqtt://192.0.2.10:1883" } }));
    const r = runCli(["run", "--config", p], { input: "" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("mqtt.url: entries carry clear citizen IDs (no pseudonymize.key) and mqtt://192.0.2.10:1883 is not encrypted");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("pseudonymize.key", () => {
  it.each([
    ["16 characters (the old minimum)", "site-secret-key!", /must be hex or base64/],
    ["31 bytes of hex", "ab".repeat(31), /this hex key has 31/],
    ["31 bytes of base64", Buffer.alloc(31, 7).toString("base64"), /this base64 key has 31/],
  ])("refuses %s", (_what, key, why) => {
    const p = problems({ pseudonymize: { key } });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^pseudonymize\.key: /);
    expect(p[0]).toMatch(why);
  });

  it.each([
    ["32 bytes of hex", "ab".repeat(32)],
    ["32 bytes of base64", Buffer.alloc(32, 7).toString("base64")],
    ["32 bytes of base64url", Buffer.alloc(32, 0xfb).toString("base64url")],
  ])("accepts %s", (_what, key) => {
    expect(problems({ pseudonymize: { key } })).toEqual([]);
  });

  it("is trimmed as trace --key-file trims it: both hash an ID the same", () => {
    const key = "ab".repeat(32);
    const c = validateConfig({ pseudonymize: { key: `\uFEFF  ${key}\r\n` } }, "test");
    expect(c.pseudonymize?.key).toBe(key);
    expect(trimPseudonymKey(`\uFEFF${key}\n`)).toBe(key);
  });
});

describe("hardware configuration (GPIO, door contact, indicator, HID)", () => {
  it("keeps door a name and takes the door contact from the door object, defaults filled", () => {
    const c = validateConfig({ door: { name: "lobby", contact: { pin: 27 }, heldOpenMs: 20000 } }, "test");
    expect(c.door).toBe("lobby");
    expect(c.doorContact).toEqual({ pin: 27, openLevel: "high", bias: "pull-up", debounceMs: 50, heldOpenMs: 20000 });
    expect(validateConfig({ door: "side" }, "test")).toMatchObject({ door: "side" });
    expect(validateConfig({}, "test").doorContact).toBeUndefined();
  });

  it("has no indicator lines and GPIO on auto by default", () => {
    const c = validateConfig({}, "test");
    expect(c.indicator).toEqual({ activeLow: false });
    expect(c.gpio).toEqual({ backend: "auto", pollMs: 10 });
  });

  it("refuses a door contact without a pin and unknown keys in it, by path", () => {
    const p = problems({ door: { contact: { line: 27 } } });
    expect(p).toEqual(expect.arrayContaining(["door.contact: missing required key 'pin'", "door.contact: unknown key 'line'"]));
  });

  it("refuses one GPIO line used for two things", () => {
    expect(problems({ relay: { type: "gpio", pin: 17 }, door: { contact: { pin: 17 } }, indicator: { green: 5, red: 5 } })).toEqual([
      "door.contact.pin: GPIO17 is already relay.pin; each line can do one thing",
      "indicator.red: GPIO5 is already indicator.green; each line can do one thing",
    ]);
  });

  it("takes USB IDs as numbers or lsusb hex, and refuses anything else", () => {
    expect(problems({ scanner: { type: "hid", vendorId: "0c2e", productId: 2913 } })).toEqual([]);
    expect(problems({ scanner: { type: "hid", vendorId: "zz" } })).toEqual([expect.stringMatching(/^scanner.vendorId: must match pattern/)]);
  });
});
