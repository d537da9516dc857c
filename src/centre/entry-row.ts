/**
 * The row form of an entry, shared by both stores: column names of the `entries` table and the mapping to and
 * from the wire form (`EntryMessage`, `ts` as ISO-8601 UTC).
 */
import type { EntryMessage } from "../contract/entry.js";
import type { DeviceEvent, DeviceState } from "./entry-store.js";
import { formatUtc } from "./time.js";

/** Columns in the order both stores select them. */
export const ENTRY_COLUMNS =
  "id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale";

export interface EntryRow {
  id: string;
  ts_ms: number;
  site: string;
  device: string;
  door: string;
  decision: string;
  reason: string;
  kind: string;
  subject: string | null;
  latency_ms: number;
  status_version: number;
  /** 0/1 in SQLite, boolean in PostgreSQL. */
  stale: number | boolean;
}

export function rowToEntry(r: EntryRow): EntryMessage {
  // The columns hold only what `parseEntryMessage` accepted (CHECK constraints guard `decision`).
  return {
    id: r.id,
    ts: formatUtc(r.ts_ms),
    site: r.site,
    device: r.device,
    door: r.door,
    decision: r.decision as EntryMessage["decision"],
    reason: r.reason as EntryMessage["reason"],
    kind: r.kind as EntryMessage["kind"],
    subject: r.subject,
    latencyMs: r.latency_ms,
    statusVersion: r.status_version,
    stale: r.stale === true || r.stale === 1,
  };
}

/** UTC epoch ms of an entry's `ts` (validated ISO-8601 by `parseEntryMessage`). */
export function entryTsMs(e: EntryMessage): number {
  return Date.parse(e.ts);
}

export interface StateRow {
  site: string;
  device: string;
  state: string;
  ts_ms: number;
  version: string | null;
  boot_id: string | null;
  received_ms: number;
}

export interface EventRow {
  key: string;
  site: string;
  device: string;
  type: string;
  ts_ms: number;
  payload: string;
  received_ms: number;
}

export function rowToState(r: StateRow): DeviceState {
  return {
    site: r.site,
    device: r.device,
    state: r.state === "online" || r.state === "degraded" ? r.state : "offline",
    tsMs: r.ts_ms,
    version: r.version,
    bootId: r.boot_id,
    receivedMs: r.received_ms,
  };
}

export function rowToEvent(r: EventRow): DeviceEvent {
  return {
    key: r.key,
    site: r.site,
    device: r.device,
    type: r.type,
    tsMs: r.ts_ms,
    payload: r.payload,
    receivedMs: r.received_ms,
  };
}

