import type { AllowReason, DenyReason } from "./reason.js";
import { localDaysSince } from "./local-date.js";
import type { StatusRow, Zone } from "./status-row.js";

/** The site policy of docs/contract.md §4; every number can be changed by the site config. */
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
  /** IANA zone in which the site counts days (`recoveryValidDays`): its people's calendar, not UTC's. */
  readonly timeZone: string;
  /**
   * What the unsigned chip card may do. It identifies but proves nothing (anyone who knows an ID and a date of birth
   * can print one): `all` treats it like a pass; `no-staff` never admits a card through the staff flag (staff use
   * signed passes); `none` refuses every card (`card_not_accepted`), passes only.
   */
  readonly cards: CardPolicy;
}

export const CARD_POLICIES = ["all", "no-staff", "none"] as const;
export type CardPolicy = (typeof CARD_POLICIES)[number];

export const DEFAULT_POLICY: Policy = {
  minDoses: 2,
  recoveryValidDays: 180,
  denyZones: ["red"],
  unknown: "deny",
  maxCacheAgeHours: 72,
  staffFlag: "staff",
  timeZone: "Asia/Ho_Chi_Minh",
  cards: "all",
};

export type Verdict =
  | { readonly decision: "allow"; readonly reason: AllowReason }
  | { readonly decision: "deny"; readonly reason: DenyReason };


/**
 * Applies the policy to a looked-up subject (undefined when the table does not hold the ID). `staffAdmits` false
 * (a card under `cards: no-staff`) makes the staff flag count for nothing: the subject goes through zone and
 * vaccination like anyone else.
 */
export function evaluatePolicy(row: StatusRow | undefined, policy: Policy, nowMs: number, staffAdmits = true): Verdict {
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
  if (staffAdmits && row.flags.includes(policy.staffFlag)) return { decision: "allow", reason: "staff" };
  if (row.zone !== null && policy.denyZones.includes(row.zone)) return { decision: "deny", reason: "red_zone" };
  if (row.doses >= policy.minDoses) return { decision: "allow", reason: "ok" };
  if (row.recoveredOn !== null) {
    const days = localDaysSince(row.recoveredOn, nowMs, policy.timeZone);
    // A recovery date in the future is a data error; it does not count as recovered.
    if (days >= 0 && days <= policy.recoveryValidDays) return { decision: "allow", reason: "ok" };
  }
  return { decision: "deny", reason: "insufficient_vaccination" };
}
