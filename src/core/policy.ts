import type { AllowReason, DenyReason } from "./reason.js";
import type { StatusRow, Zone } from "./status-row.js";

/** The site policy of DESIGN §4; every number can be changed by the site config. */
export interface Policy {
  readonly minDoses: number;
  readonly recoveryValidDays: number;
  readonly denyZones: readonly Zone[];
  /** What to do with an ID the status table does not hold. */
  readonly unknown: "deny" | "allow";
  /** Past this age the table still decides, but entries carry `stale: true`. */
  readonly maxCacheAgeHours: number;
  /** The flag that lets a subject in regardless of zone and vaccination (not of F0/F1/blocked). */
  readonly staffFlag: string;
}

export const DEFAULT_POLICY: Policy = {
  minDoses: 2,
  recoveryValidDays: 180,
  denyZones: ["red"],
  unknown: "deny",
  maxCacheAgeHours: 72,
  staffFlag: "staff",
};

export type Verdict =
  | { readonly decision: "allow"; readonly reason: AllowReason }
  | { readonly decision: "deny"; readonly reason: DenyReason };

const DAY_MS = 86_400_000;

/** Whole days from an ISO date to the UTC date of `nowMs`; NaN for a malformed date. */
function daysSince(isoDate: string, nowMs: number): number {
  return Math.floor((nowMs - Date.parse(isoDate + "T00:00:00Z")) / DAY_MS);
}

/** Applies the policy to a looked-up subject (undefined when the table does not hold the ID). */
export function evaluatePolicy(row: StatusRow | undefined, policy: Policy, nowMs: number): Verdict {
  if (row === undefined) {
    return policy.unknown === "allow"
      ? { decision: "allow", reason: "unknown_allowed" }
      : { decision: "deny", reason: "unknown_subject" };
  }
  switch (row.status) {
    case "blocked":
      return { decision: "deny", reason: "blocked" };
    case "f0":
      return { decision: "deny", reason: "infected" };
    case "f1":
      return { decision: "deny", reason: "quarantine" };
    case "clear":
      break;
  }
  if (row.flags.includes(policy.staffFlag)) return { decision: "allow", reason: "staff" };
  if (row.zone !== null && policy.denyZones.includes(row.zone)) return { decision: "deny", reason: "red_zone" };
  if (row.doses >= policy.minDoses) return { decision: "allow", reason: "ok" };
  if (row.recoveredOn !== null) {
    const days = daysSince(row.recoveredOn, nowMs);
    // A recovery date in the future is a data error; it does not count as recovered.
    if (days >= 0 && days <= policy.recoveryValidDays) return { decision: "allow", reason: "ok" };
  }
  return { decision: "deny", reason: "insufficient_vaccination" };
}
