/**
 * Strict readers for the fields of the device messages (entry, state, event) as they arrive from the network.
 * Every byte is hostile: a value is taken only when it has the exact type, range, length and character set the
 * contract gives it, so that what passes can be stored by any database without surprise (a 64-bit integer
 * column, a btree index, PostgreSQL text that cannot hold NUL). Refusals are short English reasons that name the
 * field and never echo the value (it may be personal data).
 */

/** Payload size limits in bytes. Unknown fields are ignored, but they count against these. */
export const MAX_ENTRY_BYTES = 8 * 1024;
export const MAX_STATE_BYTES = 8 * 1024;
export const MAX_EVENT_BYTES = 16 * 1024;

/** Longest door name (the device config's `door` has the same bound). */
export const MAX_DOOR_CHARS = 64;
/** Reason and kind codes: a newer gate may send codes this centre does not know; they keep this shape. */
export const CODE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
/** The subject as a gate sends it: the 12-digit ID or its HMAC-SHA256 in lowercase hex. */
export const SUBJECT_PATTERN = /^(?:[0-9]{12}|[0-9a-f]{64})$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Earliest time any message may carry: before the fleet existed is a broken clock, not a passage. */
export const EARLIEST_MS = Date.UTC(2020, 0, 1);
/** How far ahead of the centre's clock a message may be (gate clocks drift; a day is generous). */
export const FUTURE_SLACK_MS = 86_400_000;

/**
 * C0 and C1 control characters (NUL, ESC, CR, DEL, …) and the Unicode bidirectional embedding, override and
 * isolate marks, which can reorder what a terminal or a spreadsheet shows.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type Field<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Field<T> => ({ ok: true, value });
const no = <T>(error: string): Field<T> => ({ ok: false, error });

/** Parses a payload as one JSON object no larger than `maxBytes`. */
export function jsonObject(payload: Buffer | string, maxBytes: number): Field<Record<string, unknown>> {
  const size = typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.length;
  if (size > maxBytes) return no(`payload too large (${size} bytes, at most ${maxBytes})`);
  let v: unknown;
  try {
    v = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch {
    return no("payload is not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return no("payload is not an object");
  return ok(v as Record<string, unknown>);
}

/** A string of 1 to `maxChars` characters with no control or bidi characters, optionally of a pattern. */
export function text(name: string, v: unknown, maxChars: number, pattern?: RegExp): Field<string> {
  if (typeof v !== "string") return no(`${name}: expected a string`);
  if (v.length === 0 || v.length > maxChars) return no(`${name}: expected 1 to ${maxChars} characters`);
  if (UNSAFE_CHARS.test(v)) return no(`${name}: holds a control character`);
  if (pattern !== undefined && !pattern.test(v)) return no(`${name}: not in the contract's character set`);
  // A lone surrogate cannot be written as UTF-8 (PostgreSQL refuses it; SQLite would store mojibake).
  if (LONE_SURROGATE.test(v)) return no(`${name}: not valid Unicode`);
  return ok(v);
}

/** An integer in [min, max] that JavaScript and a 64-bit column hold exactly. */
export function integer(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): Field<number> {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    return no(`${name}: expected an integer from ${min} to ${max}`);
  }
  return ok(v);
}

/** A finite number in [min, max]. */
export function finite(name: string, v: unknown, min: number, max: number): Field<number> {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) return no(`${name}: expected a number from ${min} to ${max}`);
  return ok(v);
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * UTC epoch ms of a strict ISO-8601 time with seconds and a zone (`Z` or `±hh:mm`), a real calendar date, within
 * [2020-01-01, now + 1 day]. A time outside is refused, not clamped: a gate with a broken clock must be seen.
 */
export function isoTime(name: string, v: unknown, nowMs: number): Field<number> {
  if (typeof v !== "string" || v.length > 40) return no(`${name}: expected an ISO-8601 time`);
  const m = ISO.exec(v);
  if (m === null) return no(`${name}: expected an ISO-8601 time`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(wall);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    return no(`${name}: not a real date and time`);
  }
  let offsetMs = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return no(`${name}: bad zone offset`);
    offsetMs = (m[8]!.startsWith("-") ? -1 : 1) * (oh * 3_600_000 + om * 60_000);
  }
  const ms = wall + Math.floor(Number(`0.${m[7] ?? "0"}`) * 1000) - offsetMs;
  if (ms < EARLIEST_MS || ms > nowMs + FUTURE_SLACK_MS) return no(`${name}: outside 2020-01-01 to a day from now`);
  return ok(ms);
}

/** An optional field: absent or null gives `fallback`. */
export function optional<T>(v: unknown, fallback: T, read: (v: unknown) => Field<T>): Field<T> {
  return v === undefined || v === null ? ok(fallback) : read(v);
}
