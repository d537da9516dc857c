/**
 * Pure: the fleet as an admin sees it, merged from the retained `state` and `health` messages of every device.
 * Shared by `qrgate fleet` and the web dashboard; no I/O, no clock (time comes in as arguments).
 */
import { parseHealthMessage, type HealthMessage } from "../contract/health.js";

/** A device flagged silent after this many health periods without a health message while it says online. */
export const SILENT_AFTER_PERIODS = 3;
/** Assumed until a device's first health message says otherwise. */
export const DEFAULT_PERIOD_S = 30;

/** One device, one line of the table, one element of `qrgate fleet --once --json` (contract). */
export interface DeviceRow {
  readonly site: string;
  readonly device: string;
  /** From the retained `state`: `online`, `degraded`, `offline`, or `unknown` when only health was seen. */
  readonly state: "online" | "degraded" | "offline" | "unknown";
  /** With `degraded`: the most serious fault, e.g. `journal_unavailable`. */
  readonly reason: string | null;
  /** ISO-8601 UTC: when the device entered that state (the state message's `ts`). */
  readonly since: string | null;
  /** Online, but no health for more than 3 of its periods (or none at all for that long). */
  readonly silent: boolean;
  /** ISO-8601 UTC: the last time the device was heard from (health or state). */
  readonly lastHeard: string | null;
  readonly version: string | null;
  readonly bootId: string | null;
  readonly lastEntry: HealthMessage["lastEntry"];
  readonly outboxDepth: number | null;
  /** Ages count on from the health message that carried them to `nowMs`. */
  readonly outboxOldestAgeS: number | null;
  readonly statusVersion: number | null;
  readonly statusAgeS: number | null;
  readonly stale: boolean | null;
  readonly scanP50Ms: number | null;
  readonly scanP99Ms: number | null;
  readonly scanner: string | null;
  readonly relay: string | null;
  readonly door: string | null;
  readonly diskFreeBytes: number | null;
  readonly clockSynchronised: boolean | null;
  readonly alarms: readonly string[];
}

/** How a message reached us: a retained one may be old, so its own `ts` says when it was sent. */
export interface Arrival {
  readonly receivedMs: number;
  readonly retained: boolean;
}

interface StateSeen {
  readonly state: "online" | "degraded" | "offline";
  readonly reason: string | null;
  readonly tsMs: number;
  readonly version: string | null;
  readonly bootId: string | null;
}

/** Reads a `state` payload (docs/contract.md §5.3); a string says what is wrong. */
export function parseDeviceState(payload: Buffer): StateSeen | string {
  let o: unknown;
  try {
    o = JSON.parse(payload.toString("utf8"));
  } catch {
    return "payload is not JSON";
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return "payload is not an object";
  const m = o as Record<string, unknown>;
  if (m.state !== "online" && m.state !== "offline" && m.state !== "degraded") return "state: expected online, degraded or offline";
  const tsMs = typeof m.ts === "string" ? Date.parse(m.ts) : NaN;
  if (Number.isNaN(tsMs)) return "ts: expected an ISO-8601 time";
  const str = (v: unknown): string | null => (typeof v === "string" && v.length <= 256 ? v : null);
  return { state: m.state, reason: m.state === "degraded" ? str(m.reason) : null, tsMs, version: str(m.version), bootId: str(m.bootId) };
}

interface Device {
  state: StateSeen | null;
  stateHeardMs: number | null;
  health: HealthMessage | null;
  healthHeardMs: number | null;
}

function heardAt(tsMs: number, a: Arrival): number {
  return a.retained ? Math.min(tsMs, a.receivedMs) : a.receivedMs;
}

export class FleetView {
  private readonly devices = new Map<string, Device>();

  private get(site: string, device: string): Device {
    const key = `${site}/${device}`;
    let d = this.devices.get(key);
    if (d === undefined) {
      d = { state: null, stateHeardMs: null, health: null, healthHeardMs: null };
      this.devices.set(key, d);
    }
    return d;
  }

  get size(): number {
    return this.devices.size;
  }

  /** Merges a `state` message; returns what is wrong with it, or null. An empty payload (retained cleared) forgets the state. */
  applyState(site: string, device: string, payload: Buffer, a: Arrival): string | null {
    if (payload.length === 0) {
      const d = this.devices.get(`${site}/${device}`);
      if (d !== undefined) d.state = null;
      return null;
    }
    if (payload.length > 4096) return "state payload over 4096 bytes";
    const r = parseDeviceState(payload);
    if (typeof r === "string") return r;
    const d = this.get(site, device);
    d.state = r;
    d.stateHeardMs = heardAt(r.tsMs, a);
    return null;
  }

  /** Merges a `health` message; returns what is wrong with it, or null. */
  applyHealth(site: string, device: string, payload: Buffer, a: Arrival): string | null {
    if (payload.length === 0) return null;
    const r = parseHealthMessage(payload);
    if (!r.ok) return r.error;
    if (r.value.site !== site || r.value.device !== device) return "site/device do not match the topic";
    const d = this.get(site, device);
    d.health = r.value;
    d.healthHeardMs = heardAt(Date.parse(r.value.ts), a);
    return null;
  }

  rows(nowMs: number): DeviceRow[] {
    return [...this.devices.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, d]) => toRow(key, d, nowMs));
  }
}

function toRow(key: string, d: Device, nowMs: number): DeviceRow {
  const slash = key.indexOf("/");
  const h = d.health;
  const periodS = h?.periodS ?? DEFAULT_PERIOD_S;
  const state = d.state?.state ?? "unknown";
  const heard = [d.healthHeardMs, d.stateHeardMs].filter((x): x is number => x !== null);
  const lastHeardMs = heard.length === 0 ? null : Math.max(...heard);
  // Silence is about health: an online state proves only that the connection was up when it was sent.
  const quietSince = d.healthHeardMs ?? d.stateHeardMs;
  const silent = state !== "offline" && quietSince !== null && nowMs - quietSince > SILENT_AFTER_PERIODS * periodS * 1000;
  const since = d.healthHeardMs === null ? 0 : Math.max(0, Math.round((nowMs - d.healthHeardMs) / 1000));
  const onward = (v: number | null | undefined): number | null => (v === null || v === undefined ? null : v + since);
  return {
    site: key.slice(0, slash),
    device: key.slice(slash + 1),
    state,
    reason: d.state?.reason ?? null,
    since: d.state === null ? null : new Date(d.state.tsMs).toISOString(),
    silent,
    lastHeard: lastHeardMs === null ? null : new Date(lastHeardMs).toISOString(),
    version: d.state?.version ?? h?.version ?? null,
    bootId: d.state?.bootId ?? h?.bootId ?? null,
    lastEntry: h?.lastEntry ?? null,
    outboxDepth: h?.outbox.depth ?? null,
    outboxOldestAgeS: onward(h?.outbox.oldestAgeS),
    statusVersion: h?.status.version ?? null,
    statusAgeS: onward(h?.status.ageS),
    stale: h?.status.stale ?? null,
    scanP50Ms: h?.scanMs.p50 ?? null,
    scanP99Ms: h?.scanMs.p99 ?? null,
    scanner: h?.scanner ?? null,
    relay: h?.relay ?? null,
    door: h?.door ?? null,
    diskFreeBytes: h?.diskFreeBytes ?? null,
    clockSynchronised: h?.clock.synchronised ?? null,
    alarms: h?.alarms.map((x) => x.type) ?? [],
  };
}
