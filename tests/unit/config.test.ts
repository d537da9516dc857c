import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { loadConfig, validateConfig } from "../../src/config/load-config.js";

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
      policy: { minDoses: 2, recoveryValidDays: 180, denyZones: ["red"], unknown: "deny", maxCacheAgeHours: 72 },
      budgetMs: 2000,
      dedupMs: 1500,
    });
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
    for (const f of files) expect(() => loadConfig(new URL(f, dir).pathname), f).not.toThrow();
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
    const { config, source } = loadConfig(undefined, { QRGATE_CONFIG: p });
    expect(source).toEqual({ kind: "file", path: p });
    expect(config.store.path).toBe(join(dir, "db/gate.db"));
    expect(config.passes.issuerKeys).toBe(join(dir, "keys.json"));
  });
});
