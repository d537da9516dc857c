/**
 * Prometheus metrics of the collector (`qrgate collect --metrics PORT`): counts, lag, the no_entries alarm and
 * devices online/offline by site, scraped over HTTP from a collector fed by a real Mosquitto.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Collector } from "../../src/centre/collector.js";
import { labelValue, MetricsServer } from "../../src/centre/metrics-server.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { runCli, spawnCli } from "../support/cli.js";
import { freePort, startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry, subjectId } from "./generate.js";
import { connectPublisher, memoryLogger, publishEntries, waitFor } from "./mqtt-support.js";

let broker: TestBroker;
const dir = mkdtempSync(join(tmpdir(), "qrgate-metrics-"));

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** `name{labels} value` lines of an exposition, as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

it("exposes stored, duplicate and rejected counts, lag, and devices by site and state", async () => {
  const store = new SqliteEntryStore(join(dir, "a.db"));
  const { logger } = memoryLogger();
  const collector = new Collector({ store, url: broker.url, logger, group: "metrics1", clientId: "metrics-1" });
  const server = new MetricsServer({ port: 0, host: "127.0.0.1", stats: () => collector.stats, store });
  await collector.start();
  await server.start();
  const pub = await connectPublisher(broker.url);
  try {
    const now = Date.now();
    const entries = Array.from({ length: 10 }, (_, i) => makeEntry({ tsMs: now - 2000 + i, subject: subjectId(i) }));
    await publishEntries(pub, [...entries, entries[0]!]);
    await pub.publishAsync("qrgate/v1/market-1/gate-1/entry", "{", { qos: 1 });
    const state = (site: string, device: string, s: string) =>
      pub.publishAsync(`qrgate/v1/${site}/${device}/state`, JSON.stringify({ state: s, ts: new Date(now).toISOString() }), { qos: 1 });
    await state("market-1", "gate-1", "online");
    await state("market-1", "gate-2", "online");
    await state("clinic-9", "gate-1", "offline");
    await waitFor("everything stored", () => collector.stats.entriesNew === 10 && collector.stats.states === 3 && collector.stats.rejected === 1);

    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toContain("# TYPE qrgate_collector_entries_stored_total counter");
    const m = samples(text);
    expect(m.get("qrgate_collector_entries_stored_total")).toBe(10);
    expect(m.get("qrgate_collector_entries_duplicate_total")).toBe(1);
    expect(m.get("qrgate_collector_messages_rejected_total")).toBe(1);
    expect(m.get("qrgate_collector_no_entries_alarm")).toBe(0);
    expect(m.get("qrgate_collector_lag_seconds")).toBeGreaterThan(0);
    expect(m.get("qrgate_collector_lag_seconds")).toBeLessThan(600);
    expect(m.get('qrgate_devices{site="market-1",state="online"}')).toBe(2);
    expect(m.get('qrgate_devices{site="market-1",state="offline"}')).toBe(0);
    expect(m.get('qrgate_devices{site="clinic-9",state="offline"}')).toBe(1);
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
  } finally {
    await pub.endAsync();
    await server.stop();
    await collector.stop();
    await store.close();
  }
});

it("escapes label values as the exposition format wants", () => {
  expect(labelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
});

it("qrgate collect --metrics PORT serves /metrics", async () => {
  const port = await freePort();
  const child = spawnCli(["collect", "--url", broker.url, "--db", join(dir, "cli.db"), "--client-id", "metrics-cli", "--metrics", `127.0.0.1:${port}`]);
  try {
    await waitFor("collecting", () => child.logs().some((l) => l.msg === "collecting"));
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(samples(text).get("qrgate_collector_entries_stored_total")).toBe(0);
  } finally {
    child.proc.kill("SIGTERM");
    expect(await child.exited()).toBe(0);
  }
});

it("a --metrics port in use is one line and exit 2", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  const addr = busy.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  try {
    const r = runCli(["collect", "--url", broker.url, "--db", join(dir, "busy.db"), "--metrics", `127.0.0.1:${port}`]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("EADDRINUSE");
  } finally {
    busy.close();
  }
});
