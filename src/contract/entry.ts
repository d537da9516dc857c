import type { Reason } from "../core/reason.js";
import {
  CODE_PATTERN,
  finite,
  integer,
  isoTime,
  jsonObject,
  MAX_DOOR_CHARS,
  MAX_ENTRY_BYTES,
  SUBJECT_PATTERN,
  text,
  UUID_PATTERN,
} from "./strict-fields.js";
import { SEGMENT_PATTERN } from "./topics.js";

/**
 * The payload of `qrgate/v1/<site>/<device>/entry` (docs/contract.md §5.2, contract).
 * `id` is a UUIDv7, the idempotency key: stable across retries, the collector de-duplicates by it.
 */
export interface EntryMessage {
  readonly id: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly ts: string;
  readonly site: string;
  readonly device: string;
  readonly door: string;
  readonly decision: "allow" | "deny";
  readonly reason: Reason;
  /** `cccd` or `pass`; `unknown` when the code was of no kind the gate reads (then `subject` is null). */
  readonly kind: "cccd" | "pass" | "unknown";
  /** The 12-digit ID, its keyed hash when the site pseudonymizes, or null when none could be read. */
  readonly subject: string | null;
  /** Code received -> decision journaled, in milliseconds. */
  readonly latencyMs: number;
  /** Version of the status table that decided. */
  readonly statusVersion: number;
  /** True when the status table was older than `policy.maxCacheAgeHours`. */
  readonly stale: boolean;
}

/** Where an entry came from: the site and device of its topic, which the broker's ACL binds to the gate's login. */
export interface EntryOrigin {
  readonly site: string;
  readonly device: string;
}

/** Longest latency an entry may report (the decision budget is seconds; an hour is a broken gate). */
const MAX_LATENCY_MS = 3_600_000;

/**
 * Validates an entry payload received over MQTT on `origin`'s topic, at `nowMs` (the receiver's clock); returns
 * the message or what is wrong with it. Strict (see strict-fields.ts): a safe integer `statusVersion`, a strict
 * ISO-8601 `ts` within 2020 to now + 1 day, bounded strings without control characters, the contract's
 * character sets, and `site`/`device` equal to the topic's (the topic is the identity). A `reason` or `kind`
 * this build does not know is accepted when it has the shape of a code: a newer gate may send it.
 */
export function parseEntryMessage(
  payload: Buffer | string,
  origin: EntryOrigin,
  nowMs: number,
): { ok: true; value: EntryMessage } | { ok: false; error: string } {
  const obj = jsonObject(payload, MAX_ENTRY_BYTES);
  if (!obj.ok) return obj;
  const o = obj.value;
  const id = text("id", o.id, 36, UUID_PATTERN);
  if (!id.ok) return { ok: false, error: "id: expected a UUID" };
  const ts = isoTime("ts", o.ts, nowMs);
  if (!ts.ok) return ts;
  const site = text("site", o.site, 64, SEGMENT_PATTERN);
  if (!site.ok) return site;
  const device = text("device", o.device, 64, SEGMENT_PATTERN);
  if (!device.ok) return device;
  if (site.value !== origin.site || device.value !== origin.device) {
    return { ok: false, error: "site/device: the payload names another device than its topic" };
  }
  const door = text("door", o.door, MAX_DOOR_CHARS);
  if (!door.ok) return door;
  if (o.decision !== "allow" && o.decision !== "deny") return { ok: false, error: "decision: expected allow or deny" };
  const reason = text("reason", o.reason, 64, CODE_PATTERN);
  if (!reason.ok) return { ok: false, error: "reason: expected a reason code ([a-z0-9_])" };
  const kind = text("kind", o.kind, 64, CODE_PATTERN);
  if (!kind.ok) return { ok: false, error: "kind: expected a credential kind ([a-z0-9_])" };
  let subject: string | null = null;
  if (o.subject !== null) {
    const s = text("subject", o.subject, 64, SUBJECT_PATTERN);
    if (!s.ok) return { ok: false, error: "subject: expected a 12-digit ID, its 64-hex keyed hash, or null" };
    subject = s.value;
  }
  const latency = finite("latencyMs", o.latencyMs, 0, MAX_LATENCY_MS);
  if (!latency.ok) return latency;
  const statusVersion = integer("statusVersion", o.statusVersion, 0);
  if (!statusVersion.ok) return statusVersion;
  if (typeof o.stale !== "boolean") return { ok: false, error: "stale: expected a boolean" };
  return {
    ok: true,
    value: {
      id: id.value,
      // Canonical form (UTC, milliseconds): what the stores keep and give back.
      ts: new Date(ts.value).toISOString(),
      site: site.value,
      device: device.value,
      door: door.value,
      decision: o.decision,
      // A code of a newer gate is kept as sent (the contract may grow); readers treat these as open strings.
      reason: reason.value as Reason,
      kind: kind.value as EntryMessage["kind"],
      subject,
      latencyMs: latency.value,
      statusVersion: statusVersion.value,
      stale: o.stale,
    },
  };
}
