import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY, evaluatePolicy, type Policy } from "../../src/core/policy.js";
import type { StatusRow } from "../../src/core/status-row.js";
import { ROW } from "../support/gate-harness.js";

const NOW = Date.UTC(2026, 10, 24, 12);
const row = (over: Partial<StatusRow>): StatusRow => ROW("001099012345", over);

describe("default policy (docs/contract.md §4)", () => {
  const cases: Array<[string, StatusRow | undefined, string, string]> = [
    ["blocked beats everything, staff included", row({ status: "blocked", flags: ["staff"] }), "deny", "blocked"],
    ["F0 is infected", row({ status: "f0", doses: 3 }), "deny", "infected"],
    ["F1 is quarantine", row({ status: "f1", flags: ["staff"] }), "deny", "quarantine"],
    ["staff pass a red zone with no doses", row({ flags: ["x", "staff"], zone: "red", doses: 0 }), "allow", "staff"],
    ["a red zone denies the vaccinated", row({ zone: "red", doses: 3 }), "deny", "red_zone"],
    ["an orange zone does not deny by default", row({ zone: "orange" }), "allow", "ok"],
    ["two doses allow", row({ doses: 2 }), "allow", "ok"],
    ["one dose denies", row({ doses: 1 }), "deny", "insufficient_vaccination"],
    ["recovered 180 days ago still counts", row({ doses: 0, recoveredOn: "2026-05-28" }), "allow", "ok"],
    ["recovered 181 days ago no longer counts", row({ doses: 0, recoveredOn: "2026-05-27" }), "deny", "insufficient_vaccination"],
    ["a recovery date in the future does not count", row({ doses: 0, recoveredOn: "2026-12-01" }), "deny", "insufficient_vaccination"],
    ["an unknown ID is denied", undefined, "deny", "unknown_subject"],
  ];
  it.each(cases)("%s", (_name, r, decision, reason) => {
    expect(evaluatePolicy(r, DEFAULT_POLICY, NOW)).toEqual({ decision, reason });
  });
});

describe("days count in the site's time zone", () => {
  // 18:00 UTC on 24 November is 01:00 on 25 November in Ho Chi Minh City (UTC+7).
  const evening = Date.UTC(2026, 10, 24, 18);
  const recovered = row({ doses: 0, recoveredOn: "2026-05-28" });

  it("a recovery 181 local days ago no longer counts, though it is 180 UTC days", () => {
    expect(evaluatePolicy(recovered, DEFAULT_POLICY, evening)).toEqual({ decision: "deny", reason: "insufficient_vaccination" });
  });

  it("the same instant counted in UTC still allows", () => {
    expect(evaluatePolicy(recovered, { ...DEFAULT_POLICY, timeZone: "UTC" }, evening)).toEqual({ decision: "allow", reason: "ok" });
  });

  it("a recovery dated today in local time counts, though it is tomorrow in UTC", () => {
    const today = row({ doses: 0, recoveredOn: "2026-11-25" });
    expect(evaluatePolicy(today, DEFAULT_POLICY, evening)).toEqual({ decision: "allow", reason: "ok" });
  });
});

describe("site policy changes", () => {
  const site: Policy = { ...DEFAULT_POLICY, minDoses: 3, denyZones: ["red", "orange"], unknown: "allow", recoveryValidDays: 90, staffFlag: "employee" };
  it.each<[string, StatusRow | undefined, string, string]>([
    ["minDoses 3 denies two doses", row({ doses: 2 }), "deny", "insufficient_vaccination"],
    ["an orange zone in denyZones denies", row({ zone: "orange", doses: 3 }), "deny", "red_zone"],
    ["unknown: allow lets an unknown ID in", undefined, "allow", "unknown_allowed"],
    ["recoveryValidDays 90", row({ doses: 0, recoveredOn: "2026-08-01" }), "deny", "insufficient_vaccination"],
    ["the staff flag is the site's", row({ doses: 0, flags: ["employee"] }), "allow", "staff"],
    ["the default staff flag means nothing here", row({ doses: 0, flags: ["staff"] }), "deny", "insufficient_vaccination"],
  ])("%s", (_name, r, decision, reason) => {
    expect(evaluatePolicy(r, site, NOW)).toEqual({ decision, reason });
  });
});
