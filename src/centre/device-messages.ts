/**
 * Strict readers for the device `state` and `event` payloads of docs/contract.md §5, as the centre stores them.
 * `state` is `{state: "online"|"degraded"|"offline", ts, version, bootId}` (contract; `degraded` also carries a reason the centre does not keep); `event` is an alarm object whose
 * type is in `type` (or `event`), with optional `ts` and `id`. The site and device are the topic's (the broker's
 * ACL binds a topic to a login): a payload naming another is refused. Unknown fields are kept in the stored event
 * payload, bounded by the payload size limit. Anything unreadable is reported with a short reason; the collector
 * keeps it in `rejected`.
 */
import { createHash } from "node:crypto";
import {
  CODE_PATTERN,
  isoTime,
  jsonObject,
  MAX_EVENT_BYTES,
  MAX_STATE_BYTES,
  optional,
  text,
  type Field,
} from "../contract/strict-fields.js";
import type { DeviceEvent, DeviceState } from "./entry-store.js";

/** A `site`/`device` in the payload, when there is one, must be the topic's. */
function sameOrigin(o: Record<string, unknown>, site: string, device: string): string | null {
  if (o.site !== undefined && o.site !== site) return "site: the payload names another site than its topic";
  if (o.device !== undefined && o.device !== device) return "device: the payload names another device than its topic";
  return null;
}

const optionalLabel = (name: string, max: number) => (v: unknown) => optional<string | null>(v, null, (x) => text(name, x, max));

/** Reads `…/<site>/<device>/state`; a missing `ts` takes the time of receipt. */
export function parseStateMessage(
  site: string,
  device: string,
  payload: Buffer | string,
  receivedMs: number,
): Field<DeviceState> {
  const obj = jsonObject(payload, MAX_STATE_BYTES);
  if (!obj.ok) return obj;
  const o = obj.value;
  if (o.state !== "online" && o.state !== "degraded" && o.state !== "offline") {
    return { ok: false, error: "state: expected online, degraded or offline" };
  }
  const origin = sameOrigin(o, site, device);
  if (origin !== null) return { ok: false, error: origin };
  const ts = optional(o.ts, receivedMs, (v) => isoTime("ts", v, receivedMs));
  if (!ts.ok) return ts;
  const version = optionalLabel("version", 64)(o.version);
  if (!version.ok) return version;
  const bootId = optionalLabel("bootId", 128)(o.bootId);
  if (!bootId.ok) return bootId;
  return {
    ok: true,
    value: { site, device, state: o.state, tsMs: ts.value, version: version.value, bootId: bootId.value, receivedMs },
  };
}

/**
 * Reads `…/<site>/<device>/event`. The idempotency key is the payload's `id` when it has one, else a hash of
 * the topic and the exact payload bytes (a QoS 1 redelivery carries the same bytes). A `type` this build does
 * not know is stored as sent, when it has the shape of a code.
 */
export function parseEventMessage(
  site: string,
  device: string,
  payload: Buffer | string,
  receivedMs: number,
): Field<DeviceEvent> {
  const obj = jsonObject(payload, MAX_EVENT_BYTES);
  if (!obj.ok) return obj;
  const o = obj.value;
  const rawType = o.type !== undefined ? o.type : o.event;
  if (typeof rawType !== "string") return { ok: false, error: "type: expected a string" };
  const type = text("type", rawType, 64, CODE_PATTERN);
  if (!type.ok) return type;
  const origin = sameOrigin(o, site, device);
  if (origin !== null) return { ok: false, error: origin };
  const ts = optional(o.ts, receivedMs, (v) => isoTime("ts", v, receivedMs));
  if (!ts.ok) return ts;
  const id = optionalLabel("id", 128)(o.id);
  if (!id.ok) return id;
  const body = typeof payload === "string" ? payload : payload.toString("utf8");
  const key =
    id.value !== null
      ? `${site}/${device}/${id.value}`
      : `sha256:${createHash("sha256").update(`${site}/${device}\n`).update(body).digest("hex")}`;
  // Stored re-serialised: JSON.stringify escapes what a text column cannot hold raw (NUL) and drops nothing.
  return { ok: true, value: { key, site, device, type: type.value, tsMs: ts.value, payload: JSON.stringify(o), receivedMs } };
}
