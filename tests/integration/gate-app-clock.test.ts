/**
 * The clock guard as the gate wires it: a store whose trusted time was left in 2040 by one bad sample, started
 * with a system clock that the (injected) time daemon reports as synchronised, decides at the right time again.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load-config.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { GateApp } from "../../src/gate-app.js";
import { openDatabase } from "../../src/store/database.js";
import { SETTING, Settings } from "../../src/store/settings.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { freePort } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const NOW = Date.UTC(2026, 10, 24, 8);
const Y2040 = Date.UTC(2040, 0, 1);

async function gateWithFloorIn2040(synced: boolean): Promise<GateApp> {
  const path = join(mkdtempSync(join(tmpdir(), "qrgate-appclock-")), "g.db");
  const db = openDatabase(path, { synchronous: "FULL" });
  new Settings(db).set(SETTING.trustedWallMs, Y2040);
  db.close();
  const clock = new FakeClock(NOW);
  // Nothing listens on this port: the uplink retries in the background, which this test ignores.
  const base = validateConfig({ scanner: { type: "sim" }, mqtt: { url: `mqtt://127.0.0.1:${await freePort()}`, reconnectMs: 60_000 } }, "test");
  const app = new GateApp({ ...base, store: { ...base.store, path } }, pino({ level: "silent" }), {
    clock,
    scanner: new SimScanner(clock),
    timeSync: { isSynchronized: () => Promise.resolve(synced) },
  });
  await app.start();
  return app;
}

const eventsIn = (app: GateApp) =>
  app.outbox
    .after(0, 100)
    .filter((r) => r.topic.endsWith("/event"))
    .map((r) => JSON.parse(r.payload) as { event: string; detail: string });

describe("the gate's clock after a bad sample was saved", () => {
  it("drops back to a synchronised system clock at start, with clock_jump alarms naming both times", async () => {
    const app = await gateWithFloorIn2040(true);
    try {
      await waitFor(() => app.trustedClock.wallMs() < Y2040, "the trusted time to drop back");
      expect(app.trustedClock.wallMs()).toBe(NOW);
      const jumps = eventsIn(app).filter((e) => e.event === "clock_jump");
      expect(jumps.map((e) => e.detail)).toEqual([
        expect.stringMatching(/^system clock 2026-11-24T08:00:00.000Z is 13 years behind the last trusted time 2040-01-01T00:00:00.000Z/),
        "trusted time 2040-01-01T00:00:00.000Z was 13 years ahead of the synchronised system clock 2026-11-24T08:00:00.000Z: dropped back to the system clock",
      ]);
    } finally {
      await app.stop();
    }
  });

  it("keeps the trusted time when the system clock is not reported synchronised", async () => {
    const app = await gateWithFloorIn2040(false);
    try {
      expect(app.trustedClock.wallMs()).toBeGreaterThanOrEqual(Y2040);
      expect(eventsIn(app).filter((e) => e.event === "clock_jump")).toHaveLength(1);
    } finally {
      await app.stop();
    }
  });
});
