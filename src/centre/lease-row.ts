/** Row <-> `CollectorLease` mapping shared by both stores (the `collector_leases` table, migration 5). */
import type { CollectorLease } from "./entry-store.js";

export interface LeaseRow {
  name: string;
  grp: string;
  holder: string;
  instance: string;
  renewed_ms: number;
  expires_ms: number;
  /** A boolean from PostgreSQL, 0 or 1 from SQLite. */
  expired: boolean | number;
}

export function rowToLease(r: LeaseRow): CollectorLease {
  return {
    name: r.name,
    group: r.grp,
    holder: r.holder,
    instance: r.instance,
    renewedMs: r.renewed_ms,
    expiresMs: r.expires_ms,
    expired: r.expired === true || r.expired === 1,
  };
}
