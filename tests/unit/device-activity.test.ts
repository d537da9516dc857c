import { describe, expect, it } from "vitest";
import { DeviceActivity } from "../../src/fleet/device-activity.js";

const H = 3_600_000;
const NOW = Date.UTC(2026, 10, 24, 14, 30);
const entry = (tsMs: number, decision: string, extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ ts: new Date(tsMs).toISOString(), decision, subject: "001099012345", ...extra }));

describe("device activity for the dashboard's detail", () => {
  it("counts allowed and refused entries per hour over the last 24 hours, current hour last", () => {
    const a = new DeviceActivity();
    a.applyEntry("hq", "g1", entry(NOW, "allow"), NOW);
    a.applyEntry("hq", "g1", entry(NOW - 10 * 60_000, "deny"), NOW);
    a.applyEntry("hq", "g1", entry(NOW - 2 * H, "allow"), NOW);
    const r = a.report("hq", "g1", NOW);
    expect(r.perHour).toHaveLength(24);
    expect(r.perHour.at(-1)).toEqual({ hourMs: Date.UTC(2026, 10, 24, 14), allow: 1, deny: 1 });
    expect(r.perHour.at(-3)).toMatchObject({ allow: 1, deny: 0 });
    expect(r.perHour.reduce((n, h) => n + h.allow + h.deny, 0)).toBe(3);
  });

  it("drops entries older than the window and forgets hours that leave it", () => {
    const a = new DeviceActivity();
    expect(a.applyEntry("hq", "g1", entry(NOW - 30 * H, "allow"), NOW)).toBeNull();
    a.applyEntry("hq", "g1", entry(NOW - 23 * H, "allow"), NOW);
    expect(a.report("hq", "g1", NOW).perHour[0]).toMatchObject({ allow: 1 });
    expect(a.report("hq", "g1", NOW + 2 * H).perHour.reduce((n, h) => n + h.allow, 0)).toBe(0);
  });

  it("keeps no subject: the report has counts and alarm words only", () => {
    const a = new DeviceActivity();
    a.applyEntry("hq", "g1", entry(NOW, "allow"), NOW);
    a.applyEvent("hq", "g1", Buffer.from(JSON.stringify({ ts: "2026-11-24T14:00:00.000Z", event: "door_held", detail: "held 40 s" })));
    expect(JSON.stringify(a.report("hq", "g1", NOW))).not.toContain("001099012345");
  });

  it("keeps the newest alarms first, at most maxEvents", () => {
    const a = new DeviceActivity(24, 3);
    for (let i = 0; i < 5; i++) a.applyEvent("hq", "g1", Buffer.from(JSON.stringify({ ts: `2026-11-24T14:0${i}:00.000Z`, type: `alarm_${i}`, detail: "" })));
    expect(a.report("hq", "g1", NOW).events.map((e) => e.event)).toEqual(["alarm_4", "alarm_3", "alarm_2"]);
  });

  it.each([
    ["not JSON", Buffer.from("{"), "entry is not JSON"],
    ["no ts", Buffer.from(JSON.stringify({ decision: "allow" })), "entry without a valid ts"],
    ["bad decision", entry(NOW, "maybe"), "entry without a decision"],
    ["oversized", Buffer.alloc(9000, 0x20), "entry payload over 8192 bytes"],
  ])("refuses an entry that is %s, counting nothing", (_what, payload, error) => {
    const a = new DeviceActivity();
    expect(a.applyEntry("hq", "g1", payload, NOW)).toBe(error);
    expect(a.report("hq", "g1", NOW).perHour.every((h) => h.allow + h.deny === 0)).toBe(true);
  });

  it("refuses an event without a type", () => {
    expect(new DeviceActivity().applyEvent("hq", "g1", Buffer.from(JSON.stringify({ detail: "x" })))).toBe("event without a type");
  });
});
