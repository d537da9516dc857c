/**
 * Pure: builds the health message and decides which condition alarms hold, from a snapshot the reporter reads
 * through getters. No I/O and no clock here: `nowMs` comes in with the snapshot.
 */
import type { HealthAlarm, HealthMessage } from "../contract/health.js";
import type { AlarmType } from "../contract/event.js";

const HOUR_MS = 3_600_000;

/** Everything health is made of, read at one instant. */
export interface HealthSnapshot {
  readonly nowMs: number;
  readonly site: string;
  readonly device: string;
  readonly version: string;
  readonly bootId: string;
  readonly periodS: number;
  readonly uptimeS: number;
  readonly outbox: { readonly rows: number; readonly oldestMs: number | null };
  readonly status: { readonly version: number; readonly updatedMs: number | null; readonly rows: number };
  readonly maxCacheAgeHours: number;
  readonly scan: { readonly p50: number | null; readonly p99: number | null; readonly count: number };
  readonly scanner: string;
  readonly relay: string;
  readonly door: string | null;
  readonly diskFreeBytes: number | null;
  /** A time service says the system clock is synchronised (false when none says so). */
  readonly clockSynchronised: boolean;
  readonly lastEntry: HealthMessage["lastEntry"];
  readonly alarms: readonly HealthAlarm[];
}

export interface HealthThresholds {
  /** Below this many free bytes on the store's file system: `disk_low`. */
  readonly diskLowBytes: number;
}

/** An alarm that holds while a condition does; the reporter raises it on the way in and clears it on the way out. */
export interface ConditionAlarm {
  readonly type: AlarmType;
  readonly active: boolean;
  readonly detail: string;
}

const ageS = (nowMs: number, thenMs: number | null): number | null =>
  thenMs === null ? null : Math.max(0, Math.round((nowMs - thenMs) / 1000));

const round3 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);

export function isStale(s: Pick<HealthSnapshot, "nowMs" | "status" | "maxCacheAgeHours">): boolean {
  return s.status.updatedMs === null || s.nowMs - s.status.updatedMs > s.maxCacheAgeHours * HOUR_MS;
}

/** The conditions health watches, each active or not, with words for the admin (never personal data). */
export function conditionAlarms(s: HealthSnapshot, t: HealthThresholds): ConditionAlarm[] {
  const mb = (b: number): string => `${Math.round(b / 1_048_576)} MB`;
  return [
    {
      type: "stale_cache",
      active: isStale(s),
      detail:
        s.status.updatedMs === null
          ? "no status table loaded yet"
          : `status table version ${s.status.version} is ${Math.round((s.nowMs - s.status.updatedMs) / HOUR_MS)} h old (limit ${s.maxCacheAgeHours} h)`,
    },
    { type: "scanner_lost", active: s.scanner === "lost", detail: `scanner is ${s.scanner}` },
    {
      type: "disk_low",
      active: s.diskFreeBytes !== null && s.diskFreeBytes < t.diskLowBytes,
      detail: s.diskFreeBytes === null ? "disk free unknown" : `${mb(s.diskFreeBytes)} free for the store (alarm below ${mb(t.diskLowBytes)})`,
    },
    {
      type: "clock_unsynchronised",
      active: !s.clockSynchronised,
      detail: "no time service says the system clock is synchronised: timestamps and pass expiry may be off",
    },
  ];
}

export function buildHealth(s: HealthSnapshot): HealthMessage {
  return {
    v: 1,
    ts: new Date(s.nowMs).toISOString(),
    site: s.site,
    device: s.device,
    version: s.version,
    bootId: s.bootId,
    periodS: s.periodS,
    uptimeS: Math.max(0, Math.round(s.uptimeS)),
    outbox: { depth: s.outbox.rows, oldestAgeS: ageS(s.nowMs, s.outbox.oldestMs) },
    status: { version: s.status.version, ageS: ageS(s.nowMs, s.status.updatedMs), rows: s.status.rows, stale: isStale(s) },
    scanMs: { p50: round3(s.scan.p50), p99: round3(s.scan.p99), count: s.scan.count },
    scanner: s.scanner,
    relay: s.relay,
    door: s.door,
    diskFreeBytes: s.diskFreeBytes,
    clock: { synchronised: s.clockSynchronised },
    lastEntry: s.lastEntry,
    alarms: s.alarms,
  };
}
