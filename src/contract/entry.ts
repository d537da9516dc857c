import type { Reason } from "../core/reason.js";
import { ALLOW_REASONS, DENY_REASONS } from "../core/reason.js";

/**
 * The payload of `qrgate/v1/<site>/<device>/entry` (DESIGN §5, contract).
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

const REASONS: ReadonlySet<string> = new Set<string>([...ALLOW_REASONS, ...DENY_REASONS]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Validates an entry payload received over MQTT; returns the message or what is wrong with it. */
export function parseEntryMessage(
  payload: Buffer | string,
): { ok: true; value: EntryMessage } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch {
    return { ok: false, error: "payload is not JSON" };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { ok: false, error: "payload is not an object" };
  const o = v as Record<string, unknown>;
  const str = (k: string): boolean => typeof o[k] === "string";
  if (!str("id") || !UUID.test(o.id as string)) return { ok: false, error: "id: expected a UUID" };
  if (!str("ts") || Number.isNaN(Date.parse(o.ts as string))) return { ok: false, error: "ts: expected an ISO-8601 time" };
  for (const k of ["site", "device", "door"]) if (!str(k)) return { ok: false, error: `${k}: expected a string` };
  if (o.decision !== "allow" && o.decision !== "deny") return { ok: false, error: "decision: expected allow or deny" };
  if (!str("reason") || !REASONS.has(o.reason as string)) return { ok: false, error: "reason: not a known reason code" };
  if (o.kind !== "cccd" && o.kind !== "pass" && o.kind !== "unknown") return { ok: false, error: "kind: expected cccd, pass or unknown" };
  if (o.subject !== null && !str("subject")) return { ok: false, error: "subject: expected a string or null" };
  if (typeof o.latencyMs !== "number" || !Number.isFinite(o.latencyMs)) return { ok: false, error: "latencyMs: expected a number" };
  if (typeof o.statusVersion !== "number") return { ok: false, error: "statusVersion: expected a number" };
  if (typeof o.stale !== "boolean") return { ok: false, error: "stale: expected a boolean" };
  return { ok: true, value: o as unknown as EntryMessage };
}
