import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load-config.js";
import { SimRelay } from "../../src/drivers/relay/sim-relay.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { systemClock } from "../../src/drivers/clock.js";
import { GateApp } from "../../src/gate-app.js";

const log = pino({ level: "silent" });

describe("GateApp's lifecycle", () => {
  it("constructs without touching the store, and starts its parts in the documented order", () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-app-"));
    const path = join(dir, "never", "gate.db");
    const app = new GateApp(validateConfig({ scanner: { type: "sim" }, store: { path } }, "test"), log);
    expect(existsSync(join(dir, "never"))).toBe(false);
    expect(app.parts).toEqual(["relay", "store", "gate", "housekeeping", "site-replay", "uplink", "centre", "scanner", "health", "ready"]);
    app.use({ name: "metrics", start: () => undefined, stop: () => undefined }, { before: "ready" });
    expect(app.parts.at(-2)).toBe("metrics");
    expect(() => app.status).toThrow(/store is not open/);
  });

  it("a part that fails to start leaves the relay locked and nothing else running", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-app-"));
    writeFileSync(join(dir, "a-file"), "");
    const relay = new SimRelay({ pulseMs: 100, maxPulseMs: 200, activeLow: false }, systemClock, log);
    const scanner = new SimScanner(systemClock);
    const config = validateConfig({ scanner: { type: "sim" }, mqtt: { url: "mqtt://127.0.0.1:1" } }, "test");
    const app = new GateApp({ ...config, store: { ...config.store, path: join(dir, "a-file", "gate.db") } }, log, { relay, scanner });
    await expect(app.start()).rejects.toMatchObject({ code: "E_STORE_OPEN" });
    expect(relay.levels.length).toBeGreaterThanOrEqual(2);
    expect(relay.levels.every((high) => !high)).toBe(true);
    // The scanner never started: emitting is a misuse.
    expect(() => scanner.emit("x")).toThrow(/before start/);
    await app.stop();
  });
});
