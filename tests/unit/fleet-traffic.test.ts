/** The fleet simulator's traffic model and its split over workers (src/sim/traffic.ts, population.ts, fleet-runner.ts). */
import { describe, expect, it } from "vitest";
import { parseCccd } from "../../src/core/cccd.js";
import { planSites } from "../../src/sim/fleet-runner.js";
import { cardText, siteStatusRows, statusRowOf } from "../../src/sim/population.js";
import { DEFAULT_MIX, MAX_PEAK, Passers, personId, poisson, rateFactor, seededRandom, TRAVELLERS } from "../../src/sim/traffic.js";

const mean = (f: (x: number) => number, n = 1000): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += f((i + 0.5) / n);
  return s / n;
};

describe("the morning curve", () => {
  it("averages to the rate asked for and peaks at the ratio asked for", () => {
    for (const peak of [1, 1.5, 2]) {
      expect(mean((x) => rateFactor(x, peak))).toBeCloseTo(1, 2);
      expect(Math.max(...Array.from({ length: 1001 }, (_, i) => rateFactor(i / 1000, peak)))).toBeCloseTo(peak, 2);
    }
  });

  it("starts below the mean and peaks before the middle of the run", () => {
    expect(rateFactor(0, 1.5)).toBeLessThan(1);
    expect(rateFactor(0.4, 1.5)).toBeGreaterThan(rateFactor(0.7, 1.5));
  });

  it("never goes below zero, even at the largest peak", () => {
    expect(rateFactor(0, MAX_PEAK + 1)).toBeGreaterThanOrEqual(0);
  });
});

describe("arrivals", () => {
  it("draws counts whose mean is lambda, small or large", () => {
    const random = seededRandom(7);
    for (const lambda of [0.3, 4, 120]) {
      let s = 0;
      for (let i = 0; i < 5000; i++) s += poisson(lambda, random);
      expect(s / 5000).toBeCloseTo(lambda, lambda < 1 ? 1 : 0);
    }
  });
});

describe("people", () => {
  it("gives every (site, person) its own 12-digit ID", () => {
    const ids = new Set<string>();
    for (const site of [-2, -1, 0, 1, 4999]) for (let n = 0; n < 50; n++) ids.add(personId(site, n));
    expect(ids.size).toBe(250);
    for (const id of ids) expect(id).toMatch(/^\d{12}$/);
  });

  it("brings the same people back to a site's doors, never the door's previous person twice running", () => {
    const passers = new Passers(400, DEFAULT_MIX, seededRandom(3));
    const seen = new Map<string, number>();
    let prev: string | null = null;
    for (let i = 0; i < 3000; i++) {
      const p = passers.next(0, prev);
      expect(p.id).not.toBe(prev);
      prev = p.id;
      seen.set(p.id, (seen.get(p.id) ?? 0) + 1);
    }
    expect(Math.max(...seen.values())).toBeGreaterThan(3);
  });

  it("holds a site's people and the travellers in its table, with a few F0s", () => {
    const rows = siteStatusRows(3, 2000);
    expect(rows).toHaveLength(2000 + TRAVELLERS);
    const f0 = rows.filter((r) => r.status === "f0").length;
    expect(f0).toBeGreaterThan(0);
    expect(f0).toBeLessThan(rows.length * 0.02);
    expect(statusRowOf(personId(3, 5))).toEqual(rows[5]);
  });

  it("makes chip card texts the gate reads as that ID", () => {
    const id = personId(12, 34);
    expect(parseCccd(cardText(id))).toMatchObject({ ok: true, value: { kind: "cccd", id, dob: "1990-01-01" } });
  });
});

describe("splitting the fleet over workers", () => {
  it("deals whole sites, every door once", () => {
    const plan = planSites(95, 10, 3);
    expect(plan).toHaveLength(3);
    const sites = plan.flat();
    expect(sites.map((s) => s.site).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sites.reduce((n, s) => n + s.doors, 0)).toBe(95);
    expect(Math.max(...plan.map((w) => w.length)) - Math.min(...plan.map((w) => w.length))).toBeLessThanOrEqual(1);
  });
});
