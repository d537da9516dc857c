import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseHealthMessage } from "../../src/contract/health.js";
import type { AlarmType } from "../../src/contract/event.js";
import { AlarmBoard, ONE_OFF_HOLD_MS } from "../../src/services/alarm-board.js";
import { buildHealth, conditionAlarms, type HealthSnapshot } from "../../src/services/health-model.js";
import { HealthReporter, type HealthReadings } from "../../src/uplink/health-reporter.js";
import { FakeClock } from "../fakes/fake-clock.js";

const NOW = Date.UTC(2026, 10, 24, 8, 0, 0);
const MB = 1_048_576;

const snap = (over: Partial<HealthSnapshot> = {}): HealthSnapshot => ({
  nowMs: NOW,
  site: "hq",
  device: "gate-1",
  version: "0.1.0",
  bootId: "b",
  periodS: 30,
  uptimeS: 12.4,
  outbox: { rows: 3, oldestMs: NOW - 42_000 },
  status: { version: 7, updatedMs: NOW - 3_600_000, rows: 1000 },
  maxCacheAgeHours: 72,
  scan: { p50: 0.4123456, p99: 1.23456, count: 10 },
  scanner: "connected",
  relay: "off",
  door: null,
  diskFreeBytes: 5000 * MB,
  clockSynchronised: true,
  lastEntry: null,
  alarms: [],
  ...over,
});

describe("buildHealth", () => {
  it("reports ages in seconds from the snapshot's time, latencies rounded to µs", () => {
    const h = buildHealth(snap());
    expect(h).toMatchObject({
      v: 1,
      ts: "2026-11-24T08:00:00.000Z",
      uptimeS: 12,
      outbox: { depth: 3, oldestAgeS: 42 },
      status: { version: 7, ageS: 3600, rows: 1000, stale: false },
      scanMs: { p50: 0.412, p99: 1.235, count: 10 },
      clock: { synchronised: true },
    });
  });

  it("says null, not zero, for what it does not know", () => {
    const h = buildHealth(snap({ outbox: { rows: 0, oldestMs: null }, status: { version: 0, updatedMs: null, rows: 0 }, scan: { p50: null, p99: null, count: 0 }, diskFreeBytes: null }));
    expect([h.outbox.oldestAgeS, h.status.ageS, h.scanMs.p99, h.diskFreeBytes, h.status.stale]).toEqual([null, null, null, null, true]);
  });

  it("builds what parseHealthMessage accepts", () => {
    expect(parseHealthMessage(JSON.stringify(buildHealth(snap()))).ok).toBe(true);
  });
});

describe("conditionAlarms", () => {
  const active = (s: HealthSnapshot) => conditionAlarms(s, { diskLowBytes: 100 * MB }).filter((c) => c.active).map((c) => c.type);

  it.each<[string, Partial<HealthSnapshot>, AlarmType[]]>([
    ["all well", {}, []],
    ["stale table", { status: { version: 1, updatedMs: NOW - 73 * 3_600_000, rows: 1 } }, ["stale_cache"]],
    ["no table yet", { status: { version: 0, updatedMs: null, rows: 0 } }, ["stale_cache"]],
    ["scanner lost", { scanner: "lost" }, ["scanner_lost"]],
    ["disk low", { diskFreeBytes: 99 * MB }, ["disk_low"]],
    ["disk unknown", { diskFreeBytes: null }, []],
    ["clock not synchronised", { clockSynchronised: false }, ["clock_unsynchronised"]],
  ])("%s", (_what, over, expected) => {
    expect(active(snap(over))).toEqual(expected);
  });
});

describe("AlarmBoard", () => {
  const make = () => {
    let now = NOW;
    const sent: Array<[string, string]> = [];
    const board = new AlarmBoard({ raise: (t, d) => void sent.push([t, d]) }, () => now);
    return { board, sent, advance: (ms: number) => (now += ms) };
  };

  it("sends one event when a condition becomes active, none while it holds, and lists it until it clears", () => {
    const { board, sent } = make();
    board.setCondition("disk_low", true, "50 MB");
    board.setCondition("disk_low", true, "40 MB");
    expect(sent).toEqual([["disk_low", "50 MB"]]);
    expect(board.list()).toEqual([{ type: "disk_low", since: "2026-11-24T08:00:00.000Z", detail: "40 MB" }]);
    board.setCondition("disk_low", false, "");
    expect(board.list()).toEqual([]);
    board.setCondition("disk_low", true, "30 MB");
    expect(sent).toHaveLength(2);
  });

  it("does not repeat the event of an alarm the gate raised before health saw the condition", () => {
    const { board, sent } = make();
    board.raise("stale_cache", "seen on a scan");
    board.setCondition("stale_cache", true, "seen by health");
    board.raise("stale_cache", "seen again on a scan");
    expect(sent.map((s) => s[0])).toEqual(["stale_cache"]);
  });

  it("sends every one-off alarm, and lists it for a while", () => {
    const { board, sent, advance } = make();
    board.raise("door_forced", "1");
    board.raise("door_forced", "2");
    expect(sent).toHaveLength(2);
    advance(ONE_OFF_HOLD_MS + 1);
    expect(board.list()).toEqual([]);
  });
});

describe("HealthReporter", () => {
  const readings = (over: Partial<HealthReadings> = {}): HealthReadings => {
    const { nowMs: _n, diskFreeBytes: _d, clockSynchronised: _c, alarms: _a, periodS: _p, ...rest } = snap();
    return { ...rest, ...over };
  };
  const settle = () => new Promise((r) => setImmediate(r));

  it("publishes at start and every period, raising disk_low once while it holds", async () => {
    const clock = new FakeClock(NOW);
    const published: string[] = [];
    const events: string[] = [];
    let free = 50 * MB;
    const board = new AlarmBoard({ raise: (t) => void events.push(t) }, () => clock.wallMs());
    const r = new HealthReporter(
      {
        read: () => readings(),
        diskFree: () => Promise.resolve(free),
        timeSynchronised: () => Promise.resolve(true),
        alarms: board,
        publish: (p) => (published.push(p), true),
        clock,
        log: pino({ level: "silent" }),
      },
      { periodS: 30, thresholds: { diskLowBytes: 100 * MB } },
    );
    r.start();
    await settle();
    expect(published).toHaveLength(1);
    clock.advance(29_999);
    await settle();
    expect(published).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(published).toHaveLength(2);
    expect(events).toEqual(["disk_low"]);
    expect((JSON.parse(published[1]!) as { alarms: Array<{ type: string }> }).alarms.map((a) => a.type)).toEqual(["disk_low"]);
    free = 500 * MB;
    clock.advance(30_000);
    await settle();
    expect((JSON.parse(published[2]!) as { alarms: unknown[] }).alarms).toEqual([]);
    await r.stop();
    clock.advance(60_000);
    await settle();
    expect(published).toHaveLength(3);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("HealthReporter stopped before it started", () => {
  it("stays stopped: no timer left behind to keep the process alive", async () => {
    const clock = new FakeClock(NOW);
    const r = new HealthReporter(
      {
        read: () => { throw new Error("never read"); },
        diskFree: () => Promise.resolve(null),
        timeSynchronised: () => Promise.resolve(true),
        alarms: new AlarmBoard({ raise: () => {} }, () => NOW),
        publish: () => true,
        clock,
        log: pino({ level: "silent" }),
      },
      { periodS: 30, thresholds: { diskLowBytes: 0 } },
    );
    await r.stop();
    r.start();
    expect(clock.pendingTimers).toBe(0);
  });
});
