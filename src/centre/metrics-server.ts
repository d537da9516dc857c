/**
 * The collector's Prometheus metrics (`qrgate collect --metrics [HOST:]PORT`): `GET /metrics` in the Prometheus
 * text exposition format 0.0.4, the convention admins' monitoring already scrapes. Counters come from the
 * collector's stats; devices online/offline by site are read from the store at each scrape (the last state
 * of each device, as `qrgate fleet` would show it). No personal data: counts, site names and times only.
 *
 * Constructor does no I/O; `start()` listens, `stop()` closes.
 */
import { createServer, type Server } from "node:http";
import type { CollectorStats } from "./collector.js";
import type { EntryStore } from "./entry-store.js";

export interface MetricsOptions {
  readonly port: number;
  /** Interface to listen on (default all). */
  readonly host?: string;
  readonly stats: () => Readonly<CollectorStats>;
  readonly store: EntryStore;
}

/** A label value as the exposition format wants it: backslash, quote and line feed escaped. */
export function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

function family(name: string, type: "counter" | "gauge", help: string, samples: readonly Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const s of samples) {
    const labels = Object.entries(s.labels ?? {});
    const l = labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${labelValue(v)}"`).join(",")}}`;
    lines.push(`${name}${l} ${Number.isFinite(s.value) ? String(s.value) : "NaN"}`);
  }
  return lines.join("\n") + "\n";
}

/** The metrics text for one scrape. */
export async function renderMetrics(stats: Readonly<CollectorStats>, store: EntryStore): Promise<string> {
  const bySite = new Map<string, { online: number; degraded: number; offline: number }>();
  for (const d of await store.deviceStates()) {
    const c = bySite.get(d.site) ?? { online: 0, degraded: 0, offline: 0 };
    c[d.state] += 1;
    bySite.set(d.site, c);
  }
  const devices: Sample[] = [];
  for (const [site, c] of [...bySite].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    devices.push(
      { labels: { site, state: "online" }, value: c.online },
      { labels: { site, state: "degraded" }, value: c.degraded },
      { labels: { site, state: "offline" }, value: c.offline },
    );
  }
  return [
    family("qrgate_collector_entries_stored_total", "counter", "Entries stored (new).", [{ value: stats.entriesNew }]),
    family("qrgate_collector_entries_duplicate_total", "counter", "Entries received again and not stored twice.", [
      { value: stats.entriesDuplicate },
    ]),
    family("qrgate_collector_messages_rejected_total", "counter", "Messages set aside in the rejected table.", [{ value: stats.rejected }]),
    family("qrgate_collector_messages_received_total", "counter", "Messages received on all topics.", [{ value: stats.received }]),
    family("qrgate_collector_commit_errors_total", "counter", "Commits that failed and were retried.", [{ value: stats.commitErrors }]),
    family("qrgate_collector_lag_seconds", "gauge", "Receipt time minus entry time of the last entry stored.", [
      { value: stats.lagMs / 1000 },
    ]),
    family("qrgate_collector_last_entry_timestamp_seconds", "gauge", "When the last entry was stored (0: none yet).", [
      { value: stats.lastEntryMs / 1000 },
    ]),
    family("qrgate_collector_no_entries_alarm", "gauge", "1 while gates are online but no entry has arrived for a while.", [
      { value: stats.silenceAlarm },
    ]),
    family("qrgate_devices", "gauge", "Devices by site and last known state.", devices),
  ].join("");
}

export class MetricsServer {
  private server: Server | null = null;

  constructor(private readonly opts: MetricsOptions) {}

  /** Listens; rejects when the port cannot be had (in use, not allowed). */
  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /metrics\n");
        return;
      }
      renderMetrics(this.opts.stats(), this.opts.store).then(
        (text) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(text),
        () => res.writeHead(503, { "content-type": "text/plain" }).end("store unavailable\n"),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** The port listened on (useful with port 0). */
  get port(): number {
    const a = this.server?.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
