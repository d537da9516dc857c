/**
 * Single use across a site (docs/contract.md §5.6, contract): `<root>/<site>/all/used-passes`, QoS 1, not
 * retained. A gate publishes each pass it let someone in with; every gate of the site records it and refuses the
 * pass `replayed`. Passes travel as the SHA-256 of their `jti`, so the topic carries fixed-size, opaque values.
 */
import { createHash } from "node:crypto";
import { SEGMENT_PATTERN } from "./topics.js";

export interface UsedPassesMessage {
  readonly v: 1;
  /** ISO-8601 UTC, when sent. */
  readonly ts: string;
  readonly site: string;
  /** The sender: a gate ignores its own messages. */
  readonly device: string;
  readonly passes: ReadonlyArray<{
    /** Lowercase hex SHA-256 of the pass's `jti` (UTF-8). */
    readonly h: string;
    /** Unix seconds after which the pass is refused as expired anyway (its `exp` plus the sender's skew). */
    readonly exp: number;
  }>;
}

export const MAX_USED_PASSES_BYTES = 8192;
export const MAX_PASSES_PER_MESSAGE = 64;
/** An `exp` further ahead than this is refused: a pass lives at most 600 s, plus skew. */
export const MAX_EXP_AHEAD_S = 3600;

export function usedPassesTopic(root: string, site: string): string {
  return `${root}/${site}/all/used-passes`;
}

export function jtiHash(jti: string): string {
  return createHash("sha256").update(jti, "utf8").digest("hex");
}

const HASH = /^[0-9a-f]{64}$/;

/** Validates a used-passes payload against the site it arrived on and the receiver's time; never throws. */
export function parseUsedPassesMessage(
  payload: Buffer | string,
  site: string,
  nowS: number,
): { ok: true; value: UsedPassesMessage } | { ok: false; error: string } {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_USED_PASSES_BYTES) return { ok: false, error: `payload of ${size} bytes is over ${MAX_USED_PASSES_BYTES}` };
  let v: unknown;
  try {
    v = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch {
    return { ok: false, error: "payload is not JSON" };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { ok: false, error: "payload is not an object" };
  const o = v as Record<string, unknown>;
  if (o.v !== 1) return { ok: false, error: "v: expected 1" };
  if (typeof o.ts !== "string" || Number.isNaN(Date.parse(o.ts))) return { ok: false, error: "ts: expected an ISO-8601 time" };
  if (o.site !== site) return { ok: false, error: "site: does not match the topic" };
  if (typeof o.device !== "string" || !SEGMENT_PATTERN.test(o.device)) return { ok: false, error: "device: expected a device name" };
  if (!Array.isArray(o.passes) || o.passes.length === 0 || o.passes.length > MAX_PASSES_PER_MESSAGE) {
    return { ok: false, error: `passes: expected 1 to ${MAX_PASSES_PER_MESSAGE} items` };
  }
  for (const [i, p] of (o.passes as unknown[]).entries()) {
    if (typeof p !== "object" || p === null) return { ok: false, error: `passes[${i}]: expected {h, exp}` };
    const q = p as Record<string, unknown>;
    if (typeof q.h !== "string" || !HASH.test(q.h)) return { ok: false, error: `passes[${i}].h: expected 64 hex digits` };
    if (typeof q.exp !== "number" || !Number.isSafeInteger(q.exp)) return { ok: false, error: `passes[${i}].exp: expected Unix seconds` };
    if (q.exp > nowS + MAX_EXP_AHEAD_S) return { ok: false, error: `passes[${i}].exp: more than ${MAX_EXP_AHEAD_S} s ahead` };
  }
  return { ok: true, value: o as unknown as UsedPassesMessage };
}
