/**
 * Issue 11 item 16: a gate runs for years, so its periodic work must hold a constant number of timer handles.
 * A simulated month on the fake clock (43,200 trusted-time saves, 720 retention runs) keeps the count flat.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load-config.js";
import { GateApp } from "../../src/gate-app.js";
import { SimScanner } from "../../src/drivers/scanner/sim-scanner.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { freePort } from "../support/mosquitto.js";
import { Periodic } from "../../src/services/periodic.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("periodic timers", () => {
  it("a month of the gate's timers on the fake clock keeps one handle per task", async () => {
    const clock = new FakeClock();
    // Nothing listens on this port: the uplink keeps retrying in the background, which this test ignores.
    const port = await freePort();
    const base = validateConfig({ scanner: { type: "sim" }, mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnectMs: 60_000 } }, "test");
    const config = { ...base, store: { ...base.store, path: ":memory:" } };
    const app = new GateApp(config, pino({ level: "silent" }), { clock, scanner: new SimScanner(clock) });
    await app.start();
    try {
      const tasks = app.timerCount;
      expect(tasks).toBe(2);
      clock.advance(DAY);
      const pendingAfterADay = clock.pendingTimers;
      for (let d = 1; d < 30; d++) clock.advance(DAY);
      expect(app.timerCount).toBe(tasks);
      expect(clock.pendingTimers).toBe(pendingAfterADay);
      // The timers did fire: the trusted time was saved during the month.
      expect(app.trustedClock.wallMs()).toBeGreaterThanOrEqual(Date.UTC(2026, 10, 24, 8, 0, 0) + 30 * DAY);
    } finally {
      await app.stop();
    }
    expect(app.timerCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it("a task that throws keeps its schedule and its single handle", () => {
    const clock = new FakeClock();
    const p = new Periodic(clock, pino({ level: "silent" }));
    let runs = 0;
    p.every(1000, () => {
      runs++;
      throw new Error("disk I/O error");
    });
    clock.advance(10_000);
    expect(runs).toBe(10);
    expect(p.size).toBe(1);
    expect(clock.pendingTimers).toBe(1);
    p.cancelAll();
    clock.advance(10_000);
    expect(runs).toBe(10);
  });
});
