/**
 * The retained payload of `<root>/<site>/<device>/health` (docs/contract.md §5.4, contract), published at
 * QoS 0 with retain every `periodS` seconds and on every (re)connect. Readers (the fleet view, the centre) must
 * accept unknown extra fields; a missing measure is null, never a guess.
 */
export interface HealthMessage {
  /** Payload format version; a reader refuses a `v` it does not know. */
  readonly v: 1;
  /** ISO-8601 UTC with milliseconds, the device's wall time when built. */
  readonly ts: string;
  readonly site: string;
  readonly device: string;
  /** qrgate's version. */
  readonly version: string;
  readonly bootId: string;
  /** How often this device publishes health; a reader flags it silent after 3 periods without one. */
  readonly periodS: number;
  readonly uptimeS: number;
  readonly outbox: { readonly depth: number; readonly oldestAgeS: number | null };
  readonly status: { readonly version: number; readonly ageS: number | null; readonly rows: number; readonly stale: boolean };
  /** Code received -> relay commanded over the last scans (up to 1,024); null before the first. */
  readonly scanMs: { readonly p50: number | null; readonly p99: number | null; readonly count: number };
  /** `connected`, `lost`, `closed`, `starting`, or a driver's own word. */
  readonly scanner: string;
  /** `on`, `off`, or a driver's own word (a fault). */
  readonly relay: string;
  /** `open`, `closed`, … from the door contact; null when the gate has none. */
  readonly door: string | null;
  /** Free bytes for the store's file system (what an unprivileged process may use); null when unknown. */
  readonly diskFreeBytes: number | null;
  /** True only when a time service (systemd-timesyncd, the kernel's flag, chrony, ntpd) says the clock is synchronised. */
  readonly clock: { readonly synchronised: boolean };
  /** The last entry this device journaled (no subject); null when none this run. */
  readonly lastEntry: { readonly ts: string; readonly decision: "allow" | "deny"; readonly reason: string } | null;
  readonly alarms: readonly HealthAlarm[];
}

export interface HealthAlarm {
  readonly type: string;
  /** ISO-8601 UTC: when it became active. */
  readonly since: string;
  readonly detail: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const numOrNull = (v: unknown): boolean => v === null || (typeof v === "number" && Number.isFinite(v));

/** The largest health payload a reader accepts: a real one is well under 2 KB. */
export const MAX_HEALTH_BYTES = 16_384;

/** Validates a health payload received over MQTT; returns the message or what is wrong with it. */
export function parseHealthMessage(payload: Buffer | string): Parsed<HealthMessage> {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_HEALTH_BYTES) return { ok: false, error: `payload of ${size} bytes is over ${MAX_HEALTH_BYTES}` };
  let o: unknown;
  try {
    o = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch {
    return { ok: false, error: "payload is not JSON" };
  }
  if (!isObj(o)) return { ok: false, error: "payload is not an object" };
  if (o.v !== 1) return { ok: false, error: "v: expected 1" };
  if (typeof o.ts !== "string" || Number.isNaN(Date.parse(o.ts))) return { ok: false, error: "ts: expected an ISO-8601 time" };
  for (const k of ["site", "device", "version", "bootId", "scanner", "relay"]) {
    if (typeof o[k] !== "string") return { ok: false, error: `${k}: expected a string` };
  }
  if (typeof o.periodS !== "number" || !(o.periodS > 0)) return { ok: false, error: "periodS: expected a positive number" };
  if (typeof o.uptimeS !== "number") return { ok: false, error: "uptimeS: expected a number" };
  const ob = o.outbox;
  if (!isObj(ob) || typeof ob.depth !== "number" || !numOrNull(ob.oldestAgeS)) return { ok: false, error: "outbox: expected {depth, oldestAgeS}" };
  const st = o.status;
  if (!isObj(st) || typeof st.version !== "number" || !numOrNull(st.ageS) || typeof st.stale !== "boolean") {
    return { ok: false, error: "status: expected {version, ageS, rows, stale}" };
  }
  const sc = o.scanMs;
  if (!isObj(sc) || !numOrNull(sc.p50) || !numOrNull(sc.p99)) return { ok: false, error: "scanMs: expected {p50, p99, count}" };
  if (o.door !== null && typeof o.door !== "string") return { ok: false, error: "door: expected a string or null" };
  if (!numOrNull(o.diskFreeBytes)) return { ok: false, error: "diskFreeBytes: expected a number or null" };
  const ck = o.clock;
  if (!isObj(ck) || typeof ck.synchronised !== "boolean") return { ok: false, error: "clock: expected {synchronised}" };
  const le = o.lastEntry;
  if (le !== null && (!isObj(le) || typeof le.ts !== "string" || (le.decision !== "allow" && le.decision !== "deny"))) {
    return { ok: false, error: "lastEntry: expected {ts, decision, reason} or null" };
  }
  if (!Array.isArray(o.alarms) || !o.alarms.every((a) => isObj(a) && typeof a.type === "string" && typeof a.since === "string")) {
    return { ok: false, error: "alarms: expected an array of {type, since, detail}" };
  }
  return { ok: true, value: o as unknown as HealthMessage };
}
