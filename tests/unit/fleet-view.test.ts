import { describe, expect, it } from "vitest";
import { FleetView } from "../../src/fleet/fleet-view.js";
import { renderFleetTable } from "../../src/fleet/fleet-table.js";
import { buildHealth } from "../../src/services/health-model.js";

const T0 = Date.UTC(2026, 10, 24, 8, 0, 0);
const live = (ms: number) => ({ receivedMs: ms, retained: false });
const state = (s: "online" | "offline", tsMs: number) => Buffer.from(JSON.stringify({ state: s, ts: new Date(tsMs).toISOString(), version: "0.1.0", bootId: "b1" }));
const health = (device: string, tsMs: number, periodS = 30) =>
  Buffer.from(
    JSON.stringify(
      buildHealth({
        nowMs: tsMs,
        site: "hq",
        device,
        version: "0.1.0",
        bootId: "b1",
        periodS,
        uptimeS: 100,
        outbox: { rows: 2, oldestMs: tsMs - 10_000 },
        status: { version: 4, updatedMs: tsMs - 60_000, rows: 10 },
        maxCacheAgeHours: 72,
        scan: { p50: 0.5, p99: 1.5, count: 3 },
        scanner: "connected",
        relay: "off",
        door: null,
        diskFreeBytes: 1e9,
        clockSynchronised: true,
        lastEntry: { ts: new Date(tsMs - 5000).toISOString(), decision: "allow", reason: "ok" },
        alarms: [{ type: "disk_low", since: new Date(tsMs).toISOString(), detail: "x" }],
      }),
    ),
  );

describe("FleetView", () => {
  it("merges state and health into one row per device, sorted", () => {
    const v = new FleetView();
    expect(v.applyHealth("hq", "gate-b", health("gate-b", T0), live(T0))).toBeNull();
    expect(v.applyState("hq", "gate-b", state("online", T0 - 1000), live(T0))).toBeNull();
    expect(v.applyState("hq", "gate-a", state("offline", T0 - 5000), live(T0))).toBeNull();
    const rows = v.rows(T0 + 3000);
    expect(rows.map((r) => [r.device, r.state, r.silent])).toEqual([["gate-a", "offline", false], ["gate-b", "online", false]]);
    expect(rows[1]).toMatchObject({
      since: new Date(T0 - 1000).toISOString(),
      outboxDepth: 2,
      outboxOldestAgeS: 13, // 10 s when reported, 3 s since
      statusVersion: 4,
      statusAgeS: 63,
      scanP99Ms: 1.5,
      alarms: ["disk_low"],
      lastEntry: { decision: "allow", reason: "ok" },
    });
    expect(rows[0]!.outboxDepth).toBeNull();
  });

  it("flags an online device silent after 3 of its health periods without health", () => {
    const v = new FleetView();
    v.applyState("hq", "gate-a", state("online", T0), live(T0));
    v.applyHealth("hq", "gate-a", health("gate-a", T0, 10), live(T0));
    expect(v.rows(T0 + 30_000)[0]!.silent).toBe(false);
    expect(v.rows(T0 + 30_001)[0]!.silent).toBe(true);
    v.applyHealth("hq", "gate-a", health("gate-a", T0 + 30_000, 10), live(T0 + 30_002));
    expect(v.rows(T0 + 30_003)[0]!.silent).toBe(false);
  });

  it("dates a retained message by its own ts, so an old one counts as old", () => {
    const v = new FleetView();
    v.applyState("hq", "gate-a", state("online", T0 - 3_600_000), { receivedMs: T0, retained: true });
    v.applyHealth("hq", "gate-a", health("gate-a", T0 - 3_600_000), { receivedMs: T0, retained: true });
    expect(v.rows(T0)[0]).toMatchObject({ state: "online", silent: true, lastHeard: new Date(T0 - 3_600_000).toISOString() });
  });

  it("does not flag an offline device silent", () => {
    const v = new FleetView();
    v.applyState("hq", "gate-a", state("offline", T0), live(T0));
    expect(v.rows(T0 + 3_600_000)[0]!.silent).toBe(false);
  });

  it.each([
    ["not JSON", Buffer.from("{")],
    ["wrong version", Buffer.from(JSON.stringify({ v: 2 }))],
    ["oversized", Buffer.alloc(20_000, 0x20)],
  ])("refuses a %s health message and keeps the row as it was", (_w, payload) => {
    const v = new FleetView();
    expect(v.applyHealth("hq", "gate-a", payload, live(T0))).not.toBeNull();
    expect(v.size).toBe(0);
  });

  it("refuses health whose site or device differ from its topic", () => {
    const v = new FleetView();
    expect(v.applyHealth("hq", "gate-x", health("gate-a", T0), live(T0))).toMatch(/match/);
  });

  it("forgets a state cleared by an empty retained message", () => {
    const v = new FleetView();
    v.applyState("hq", "gate-a", state("online", T0), live(T0));
    v.applyState("hq", "gate-a", Buffer.alloc(0), live(T0));
    expect(v.rows(T0)[0]!.state).toBe("unknown");
  });

  it("renders a table with a summary line", () => {
    const v = new FleetView();
    v.applyState("hq", "gate-a", state("online", T0), live(T0));
    v.applyHealth("hq", "gate-a", health("gate-a", T0), live(T0));
    const out = renderFleetTable(v.rows(T0 + 1000), T0 + 1000);
    expect(out.split("\n")[0]).toMatch(/^1 devices: 1 online, 0 degraded, 0 offline, 0 silent/);
    expect(out).toMatch(/gate-a\s+online\s+1s ago\s+allow ok 6s ago\s+2\s+11s\s+v4\s+61s\s+1\.5ms\s+disk_low/);
  });
});

describe("FleetView, degraded devices", () => {
  it("shows a degraded device with its reason, still not silent while its health comes", () => {
    const v = new FleetView();
    v.applyState("hq", "gate-a", Buffer.from(JSON.stringify({ state: "degraded", reason: "journal_unavailable", ts: new Date(T0).toISOString(), version: "1", bootId: "b" })), live(T0));
    v.applyHealth("hq", "gate-a", health("gate-a", T0), live(T0));
    expect(v.rows(T0 + 1000)[0]).toMatchObject({ state: "degraded", reason: "journal_unavailable", silent: false });
    expect(v.rows(T0 + 91_000)[0]!.silent).toBe(true);
  });

  it("refuses a state it does not know", () => {
    const v = new FleetView();
    expect(v.applyState("hq", "gate-a", Buffer.from(JSON.stringify({ state: "sleeping", ts: new Date(T0).toISOString() })), live(T0))).toMatch(/state/);
  });
});
