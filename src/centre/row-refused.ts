/**
 * Telling a row the database refuses for what it holds (retrying can never succeed: set it aside) from a store
 * that is failing (connection lost, disk full, lock timeout: retry later). The collector splits a batch on the
 * first kind and keeps the good rows; it retries the whole batch on the second.
 */
import {
  CODE_PATTERN,
  EARLIEST_MS,
  MAX_DOOR_CHARS,
  MAX_EVENT_BYTES,
  SUBJECT_PATTERN,
  UNSAFE_CHARS,
  UUID_PATTERN,
} from "../contract/strict-fields.js";
import { SEGMENT_PATTERN } from "../contract/topics.js";
import { isMissingPartition } from "./postgres-partitions.js";
import type { EntryMessage } from "../contract/entry.js";
import type { DeviceEvent, DeviceState, IngestBatch } from "./entry-store.js";

/** A row refused before it reached the database, by the stores' own check (the same in both stores). */
export class RowRefusedError extends Error {
  readonly code = "E_ROW_REFUSED";
  constructor(message: string) {
    super(message);
    this.name = "RowRefusedError";
  }
}

/**
 * Whether `e` says the data was refused: our own check, PostgreSQL SQLSTATE classes 22 (data exception) and
 * 23 (integrity constraint) and 54000 (e.g. an index row too large), SQLite's constraint, type and size errors.
 * Anything else, a TypeError of our own making included, is not the row's fault: it is retried, never set
 * aside (a bug must not quietly move every entry into `rejected`).
 */
export function isDataError(e: unknown): boolean {
  if (e instanceof RowRefusedError) return true;
  // Class 23 too, but the store's to mend (it makes the day): retried, never set aside.
  if (isMissingPartition(e)) return false;
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof code !== "string") return false;
  if (/^(22|23)[0-9A-Z]{3}$/.test(code) || code === "54000") return true;
  return /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
}

/** A short description of a store error for logs: its code, never its message (which may quote a value). */
export function errorCode(e: unknown): string {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : e instanceof Error ? e.name : "unknown";
}

const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

function label(name: string, v: unknown, max: number, pattern?: RegExp, nullable = false): void {
  if (v === null && nullable) return;
  if (typeof v !== "string" || v.length === 0 || v.length > max || UNSAFE_CHARS.test(v) || (pattern !== undefined && !pattern.test(v))) {
    throw new RowRefusedError(`${name}: not a storable value`);
  }
}

function time(name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < EARLIEST_MS || v > MAX_MS) {
    throw new RowRefusedError(`${name}: not a storable time`);
  }
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function checkEntry(e: EntryMessage): void {
  label("id", e.id, 36, UUID_PATTERN);
  if (typeof e.ts !== "string" || !ISO_UTC.test(e.ts) || new Date(Date.parse(e.ts)).toISOString() !== e.ts) {
    throw new RowRefusedError("ts: not ISO-8601 UTC with milliseconds");
  }
  time("ts", Date.parse(e.ts));
  label("site", e.site, 64, SEGMENT_PATTERN);
  label("device", e.device, 64, SEGMENT_PATTERN);
  label("door", e.door, MAX_DOOR_CHARS);
  if (e.decision !== "allow" && e.decision !== "deny") throw new RowRefusedError("decision: not allow or deny");
  label("reason", e.reason, 64, CODE_PATTERN);
  label("kind", e.kind, 64, CODE_PATTERN);
  label("subject", e.subject, 64, SUBJECT_PATTERN, true);
  if (typeof e.latencyMs !== "number" || !Number.isFinite(e.latencyMs)) throw new RowRefusedError("latencyMs: not a number");
  if (!Number.isSafeInteger(e.statusVersion) || e.statusVersion < 0) throw new RowRefusedError("statusVersion: not a storable integer");
  if (typeof e.stale !== "boolean") throw new RowRefusedError("stale: not a boolean");
}

function checkState(s: DeviceState): void {
  label("site", s.site, 64, SEGMENT_PATTERN);
  label("device", s.device, 64, SEGMENT_PATTERN);
  if (s.state !== "online" && s.state !== "degraded" && s.state !== "offline") {
    throw new RowRefusedError("state: not online, degraded or offline");
  }
  time("ts", s.tsMs);
  time("received", s.receivedMs);
  label("version", s.version, 64, undefined, true);
  label("bootId", s.bootId, 128, undefined, true);
}

function checkEvent(ev: DeviceEvent): void {
  label("key", ev.key, 256);
  label("site", ev.site, 64, SEGMENT_PATTERN);
  label("device", ev.device, 64, SEGMENT_PATTERN);
  label("type", ev.type, 64, CODE_PATTERN);
  time("ts", ev.tsMs);
  time("received", ev.receivedMs);
  if (typeof ev.payload !== "string" || ev.payload.length > MAX_EVENT_BYTES || ev.payload.includes("\u0000")) {
    throw new RowRefusedError("payload: not a storable event payload");
  }
}

/**
 * The stores' common check of a batch, before any SQL: what either database might take loosely (SQLite stores
 * 1.5 in an INTEGER column) or refuse in a way that depends on the dialect is refused the same way in both.
 */
export function checkBatch(batch: IngestBatch): void {
  // Entries of the strict parser refuse all checkEntry does (IngestBatch.entriesParsed): reading them again was 5 %
  // of the collector's CPU at 20k entries/s.
  if (batch.entriesParsed !== true) for (const e of batch.entries) checkEntry(e);
  for (const s of batch.states) checkState(s);
  for (const ev of batch.events) checkEvent(ev);
  for (const r of batch.rejected ?? []) {
    if (typeof r.topic !== "string" || r.topic.length > 1024 || r.topic.includes("\u0000")) throw new RowRefusedError("rejected topic: not storable");
    if (r.payload.length > REJECTED_PAYLOAD_BYTES) throw new RowRefusedError("rejected payload: longer than 4 KB");
  }
}

/** How much of a refused payload the `rejected` table keeps. */
export const REJECTED_PAYLOAD_BYTES = 4096;
