/**
 * The trusted clock, its guard and the retention purge over a real SQLite file, with an injected clock and an
 * injected time-sync probe: a clock that once ran ahead must not keep the gate there, nor empty its journal.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { EntryMessage } from "../../src/contract/entry.js";
import { ClockGuard } from "../../src/services/clock-guard.js";
import { Periodic } from "../../src/services/periodic.js";
import { Retention } from "../../src/services/retention.js";
import { Uuidv7Generator } from "../../src/services/uuidv7.js";
import { openDatabase, type SqliteDb } from "../../src/store/database.js";
import { Journal } from "../../src/store/journal.js";
import { Outbox } from "../../src/store/outbox.js";
import { Settings } from "../../src/store/settings.js";
import { TrustedClock } from "../../src/store/trusted-clock.js";
import { UsedPasses } from "../../src/store/used-passes.js";
import { FakeClock } from "../fakes/fake-clock.js";

const log = pino({ level: "silent" });
const NOW = Date.UTC(2026, 10, 24, 8);
const Y2040 = Date.UTC(2040, 0, 1);
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface Device {
  readonly db: SqliteDb;
  readonly clock: TrustedClock;
  readonly guard: ClockGuard;
  readonly alarms: Array<[string, string]>;
  readonly synced: { value: boolean };
}

function device(path: string, base: FakeClock, synced = false): Device {
  const db = openDatabase(path, { synchronous: "FULL" });
  const clock = new TrustedClock(base, new Settings(db));
  const alarms: Array<[string, string]> = [];
  const state = { value: synced };
  const guard = new ClockGuard(
    clock,
    { isSynchronized: () => Promise.resolve(state.value) },
    { raise: (event, detail) => void alarms.push([event, detail]) },
    log,
  );
  guard.start();
  new Periodic(base, log).every(MIN, () => guard.tick());
  return { db, clock, guard, alarms, synced: state };
}

const dbPath = () => join(mkdtempSync(join(tmpdir(), "qrgate-clock-")), "g.db");

describe("clock jumps", () => {
  it("raise clock_jump with both times when the system clock steps forward", () => {
    const base = new FakeClock(NOW);
    const d = device(dbPath(), base);
    base.advance(30_000);
    base.setWall(Y2040);
    expect(d.clock.wallMs()).toBe(Y2040);
    expect(d.alarms).toEqual([
      ["clock_jump", "system clock jumped forward by 13 years: from 2026-11-24T08:00:30.000Z to 2040-01-01T00:00:00.000Z; gate time now 2040-01-01T00:00:00.000Z"],
    ]);
  });

  it("raise clock_jump when the system clock steps back, while the gate keeps the trusted time", () => {
    const base = new FakeClock(NOW);
    const d = device(dbPath(), base);
    base.advance(MIN); // the guard persists the floor
    base.setWall(NOW - 2 * HOUR);
    expect(d.clock.wallMs()).toBe(NOW + MIN);
    expect(d.alarms).toHaveLength(1);
    expect(d.alarms[0]?.[1]).toMatch(/^system clock jumped back by 2 h 1 min: from 2026-11-24T08:01:00.000Z to 2026-11-24T06:00:00.000Z; gate time now 2026-11-24T08:01:00.000Z$/);
  });

  it("stay quiet for NTP's small corrections and for time passing", () => {
    const base = new FakeClock(NOW);
    const d = device(dbPath(), base);
    base.advance(10 * MIN);
    base.setWall(base.wallMs() + 4 * MIN);
    base.advance(3 * HOUR);
    base.setWall(base.wallMs() - 4 * MIN);
    base.advance(MIN);
    d.clock.wallMs();
    expect(d.alarms).toEqual([]);
  });
});

describe("a floor left ahead by one bad sample", () => {
  /** One run of the device in 2040 long enough to persist it, then a restart at the real time. */
  function poisoned(): { path: string; base: FakeClock } {
    const path = dbPath();
    const base = new FakeClock(NOW);
    const first = device(path, base);
    base.setWall(Y2040);
    base.advance(MIN); // the guard persists 2040 as trusted
    first.guard.stop();
    first.db.close();
    base.setWall(NOW + 2 * MIN);
    return { path, base };
  }

  it("is dropped back to a system clock reported as synchronised, with an alarm naming both times", async () => {
    const { path, base } = poisoned();
    const d = device(path, base, true);
    await d.guard.settled();
    expect(d.clock.wallMs()).toBe(NOW + 2 * MIN);
    expect(d.alarms.map(([e]) => e)).toEqual(["clock_jump", "clock_jump"]);
    expect(d.alarms[0]?.[1]).toMatch(/^system clock 2026-11-24T08:02:00.000Z is 13 years behind the last trusted time 2040-01-01T00:01:00.000Z/);
    expect(d.alarms[1]?.[1]).toBe(
      "trusted time 2040-01-01T00:01:00.000Z was 13 years ahead of the synchronised system clock 2026-11-24T08:02:00.000Z: dropped back to the system clock",
    );
    // And it stays dropped across another restart.
    d.guard.stop();
    d.db.close();
    const again = device(path, base, false);
    expect(again.clock.wallMs()).toBe(NOW + 2 * MIN);
    expect(again.alarms).toEqual([]);
  });

  it("stands while the system clock is not reported synchronised (the floor's purpose), and drops once it is", async () => {
    const { path, base } = poisoned();
    const d = device(path, base, false);
    await d.guard.settled();
    expect(d.clock.wallMs()).toBeGreaterThanOrEqual(Date.UTC(2040, 0, 1, 0, 1));
    d.synced.value = true;
    base.advance(MIN);
    await d.guard.settled();
    expect(d.clock.wallMs()).toBe(NOW + 3 * MIN);
  });

  it("still protects a Pi that boots in 1970 with no time source", async () => {
    const path = dbPath();
    const base = new FakeClock(NOW);
    const first = device(path, base);
    first.guard.stop();
    first.db.close();
    base.setWall(0);
    const d = device(path, base, false);
    await d.guard.settled();
    expect(d.clock.wallMs()).toBe(NOW);
  });
});

describe("retention after a jump", () => {
  const ids = new Uuidv7Generator();
  function entry(tsMs: number): EntryMessage {
    return {
      id: ids.next(tsMs),
      ts: new Date(tsMs).toISOString(),
      site: "hq",
      device: "gate-1",
      door: "lobby",
      decision: "allow",
      reason: "ok",
      kind: "cccd",
      subject: "001099012345",
      latencyMs: 1,
      statusVersion: 1,
      stale: false,
    };
  }

  function filled(): { db: SqliteDb; journal: Journal; outbox: Outbox; passes: UsedPasses } {
    const db = openDatabase(dbPath(), { synchronous: "FULL" });
    const journal = new Journal(db);
    const outbox = new Outbox(db);
    // 20 days of entries, one an hour; all delivered except the last day's.
    for (let t = NOW - 20 * DAY; t < NOW; t += HOUR) journal.record({ entry: entry(t), detail: null, topic: "t/entry", usedPass: null });
    const rows = outbox.after(0, 10_000);
    outbox.removeMany(rows.filter((r) => (JSON.parse(r.payload) as EntryMessage).ts < new Date(NOW - DAY).toISOString()).map((r) => r.seq));
    journal.record({ entry: entry(NOW), detail: null, topic: "t/entry", usedPass: { jti: "pass-1", expiresS: NOW / 1000 + 600 } });
    return { db, journal, outbox, passes: new UsedPasses(db) };
  }
  const count = (db: SqliteDb) => (db.prepare("SELECT count(*) AS n FROM entries").get() as { n: number }).n;

  it("purges at most one day's worth per run when the clock jumps to 2040, and never an entry still in the outbox", () => {
    const { db, journal, passes } = filled();
    const before = count(db);
    const base = new FakeClock(NOW);
    const retention = new Retention(journal, passes, base, log, { retentionDays: 21 });
    expect(retention.run().entries).toBe(0);
    base.setWall(Y2040);
    base.advance(HOUR);
    const r = retention.run();
    expect(r.entries).toBeLessThanOrEqual(24);
    expect(count(db)).toBeGreaterThanOrEqual(before - 24);
    // Run after run, the journal shrinks by a day at most each time, down to what the outbox still holds.
    for (let i = 0; i < 40; i++) {
      base.advance(HOUR);
      const n = count(db);
      expect(retention.run().entries).toBeLessThanOrEqual(24);
      expect(count(db)).toBeGreaterThanOrEqual(n - 24);
    }
    expect(count(db)).toBe(25); // the last day (24) and the newest entry: all still in the outbox
  });

  it("does not empty the used-pass list when the clock jumps forward", () => {
    const { journal, passes } = filled();
    const base = new FakeClock(NOW);
    const retention = new Retention(journal, passes, base, log, { retentionDays: 21 });
    retention.run();
    base.setWall(Y2040);
    base.advance(5 * MIN);
    retention.run();
    expect(passes.has("pass-1")).toBe(true);
    // Once real (monotonic) time has passed its expiry, it goes.
    base.advance(6 * MIN);
    retention.run();
    expect(passes.has("pass-1")).toBe(false);
  });

  it("purges normally when the clock behaves", () => {
    const { db, journal, passes } = filled();
    const base = new FakeClock(NOW + 2 * DAY);
    const retention = new Retention(journal, passes, base, log, { retentionDays: 21 });
    expect(retention.run().entryCutoffMs).toBe(NOW - 19 * DAY);
    expect((db.prepare("SELECT min(ts_ms) AS t FROM entries").get() as { t: number }).t).toBe(NOW - 19 * DAY);
    // A used pass is forgotten by monotonic time from the earliest expiry found at the first run, never by the wall
    // clock alone: kept at first, gone once real time has passed its expiry.
    expect(passes.has("pass-1")).toBe(true);
    base.advance(MIN);
    retention.run();
    expect(passes.has("pass-1")).toBe(false);
  });
});
