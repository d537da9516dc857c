/** One row of the local status table (docs/contract.md §4, contract). Dates are ISO `YYYY-MM-DD` or null. */
export const HEALTH_STATUSES = ["clear", "f0", "f1", "blocked"] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export const ZONES = ["green", "yellow", "orange", "red"] as const;
export type Zone = (typeof ZONES)[number];

export interface StatusRow {
  readonly id: string;
  readonly status: HealthStatus;
  readonly doses: number;
  readonly lastDose: string | null;
  readonly recoveredOn: string | null;
  readonly dob: string | null;
  readonly zone: Zone | null;
  readonly flags: readonly string[];
}
