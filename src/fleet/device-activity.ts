/**
 * Pure: what the dashboard's device detail shows beyond health: entries per hour (allowed and refused) and the
 * last alarms, counted from the devices' `entry` and `event` messages. It keeps counts and alarm words only:
 * never a subject, a name or an entry's id. No I/O, no clock (times come in as arguments).
 */

const HOUR_MS = 3_600_000;

export interface HourCount {
  /** Start of the hour, ms since the epoch. */
  readonly hourMs: number;
  readonly allow: number;
  readonly deny: number;
}

export interface RecentEvent {
  /** ISO-8601 UTC. */
  readonly ts: string;
  readonly event: string;
  readonly detail: string;
}

export interface ActivityReport {
  /** One element per hour, oldest first, the current hour last. */
  readonly perHour: readonly HourCount[];
  /** Newest first. */
  readonly events: readonly RecentEvent[];
}

interface Activity {
  hours: Map<number, { allow: number; deny: number }>;
  events: RecentEvent[];
}

const str = (v: unknown, max: number): string | null => (typeof v === "string" && v.length > 0 ? v.slice(0, max) : null);

export class DeviceActivity {
  private readonly devices = new Map<string, Activity>();

  constructor(
    readonly hours = 24,
    readonly maxEvents = 20,
  ) {}

  private get(site: string, device: string): Activity {
    const key = `${site}/${device}`;
    let a = this.devices.get(key);
    if (a === undefined) {
      a = { hours: new Map(), events: [] };
      this.devices.set(key, a);
    }
    return a;
  }

  /** Counts an `entry` payload; returns what is wrong with it, or null. Entries older than the window are dropped. */
  applyEntry(site: string, device: string, payload: Buffer, nowMs: number): string | null {
    if (payload.length > 8192) return "entry payload over 8192 bytes";
    let o: unknown;
    try {
      o = JSON.parse(payload.toString("utf8"));
    } catch {
      return "entry is not JSON";
    }
    if (typeof o !== "object" || o === null) return "entry is not an object";
    const { ts, decision } = o as { ts?: unknown; decision?: unknown };
    const tsMs = typeof ts === "string" ? Date.parse(ts) : NaN;
    if (!Number.isFinite(tsMs)) return "entry without a valid ts";
    if (decision !== "allow" && decision !== "deny") return "entry without a decision";
    const hourMs = Math.floor(tsMs / HOUR_MS) * HOUR_MS;
    const oldest = this.oldestHour(nowMs);
    if (hourMs < oldest || hourMs > nowMs + HOUR_MS) return null;
    const a = this.get(site, device);
    const c = a.hours.get(hourMs) ?? { allow: 0, deny: 0 };
    c[decision]++;
    a.hours.set(hourMs, c);
    for (const h of a.hours.keys()) if (h < oldest) a.hours.delete(h);
    return null;
  }

  /** Keeps an `event` payload (an alarm); returns what is wrong with it, or null. */
  applyEvent(site: string, device: string, payload: Buffer): string | null {
    if (payload.length > 8192) return "event payload over 8192 bytes";
    let o: unknown;
    try {
      o = JSON.parse(payload.toString("utf8"));
    } catch {
      return "event is not JSON";
    }
    if (typeof o !== "object" || o === null) return "event is not an object";
    const r = o as { ts?: unknown; event?: unknown; type?: unknown; detail?: unknown };
    const event = str(r.event, 64) ?? str(r.type, 64);
    if (event === null) return "event without a type";
    const ts = str(r.ts, 40) ?? "";
    const a = this.get(site, device);
    a.events.unshift({ ts, event, detail: str(r.detail, 300) ?? "" });
    if (a.events.length > this.maxEvents) a.events.length = this.maxEvents;
    return null;
  }

  report(site: string, device: string, nowMs: number): ActivityReport {
    const a = this.devices.get(`${site}/${device}`);
    const oldest = this.oldestHour(nowMs);
    const perHour: HourCount[] = [];
    for (let i = 0; i < this.hours; i++) {
      const hourMs = oldest + i * HOUR_MS;
      const c = a?.hours.get(hourMs);
      perHour.push({ hourMs, allow: c?.allow ?? 0, deny: c?.deny ?? 0 });
    }
    return { perHour, events: a?.events.slice() ?? [] };
  }

  private oldestHour(nowMs: number): number {
    return (Math.floor(nowMs / HOUR_MS) - (this.hours - 1)) * HOUR_MS;
  }
}
