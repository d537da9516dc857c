/**
 * Tolerant readers for the device `state` and `event` payloads of DESIGN §5, as the centre stores them.
 * `state` is `{state: "online"|"offline", ts, version, bootId}` (contract); `event` is an alarm object whose
 * type is in `type` (or `event`), with optional `ts` and `id`. Unknown extra fields are kept in the stored event
 * payload. Anything unreadable is reported with a short reason and dropped by the collector.
 */
import { createHash } from "node:crypto";
import type { DeviceEvent, DeviceState } from "./entry-store.js";

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function object(payload: Buffer | string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch {
    return "payload is not JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "payload is not an object";
  return v as Record<string, unknown>;
}

function optionalTime(v: unknown, fallbackMs: number): number | null {
  if (v === undefined || v === null) return fallbackMs;
  if (typeof v === "string") {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : ms;
  }
  if (typeof v === "number" && Number.isFinite(v)) return v;
  return null;
}

const optionalString = (v: unknown): string | null => (typeof v === "string" ? v : typeof v === "number" ? String(v) : null);

/** Reads `…/<site>/<device>/state`; a missing `ts` takes the time of receipt. */
export function parseStateMessage(
  site: string,
  device: string,
  payload: Buffer | string,
  receivedMs: number,
): Parsed<DeviceState> {
  const o = object(payload);
  if (typeof o === "string") return { ok: false, error: o };
  if (o.state !== "online" && o.state !== "offline") return { ok: false, error: "state: expected online or offline" };
  const tsMs = optionalTime(o.ts, receivedMs);
  if (tsMs === null) return { ok: false, error: "ts: expected an ISO-8601 time" };
  return {
    ok: true,
    value: {
      site,
      device,
      state: o.state,
      tsMs,
      version: optionalString(o.version),
      bootId: optionalString(o.bootId),
      receivedMs,
    },
  };
}

/**
 * Reads `…/<site>/<device>/event`. The idempotency key is the payload's `id` when it has one, else a hash of
 * the topic and the exact payload bytes (a QoS 1 redelivery carries the same bytes).
 */
export function parseEventMessage(
  site: string,
  device: string,
  payload: Buffer | string,
  receivedMs: number,
): Parsed<DeviceEvent> {
  const o = object(payload);
  if (typeof o === "string") return { ok: false, error: o };
  const type = typeof o.type === "string" ? o.type : typeof o.event === "string" ? o.event : null;
  if (type === null || type.length === 0 || type.length > 64) return { ok: false, error: "type: expected a string" };
  const tsMs = optionalTime(o.ts, receivedMs);
  if (tsMs === null) return { ok: false, error: "ts: expected an ISO-8601 time" };
  const text = typeof payload === "string" ? payload : payload.toString("utf8");
  const key =
    typeof o.id === "string" && o.id.length > 0 && o.id.length <= 128
      ? `${site}/${device}/${o.id}`
      : `sha256:${createHash("sha256").update(`${site}/${device}\n`).update(text).digest("hex")}`;
  return { ok: true, value: { key, site, device, type, tsMs, payload: text, receivedMs } };
}
