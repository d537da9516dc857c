/**
 * Centre benchmark (issue 5): `node dist/tests/bench/centre-bench.js`.
 *
 * 1. Ingest: entries queued in a local Mosquitto for the collector's persistent session while it is away, then
 *    drained by `Collector` into SQLite and into PostgreSQL (entries/s from start to the last row committed,
 *    every message acknowledged only after its commit). Target >= 5,000/s for SQLite.
 * 2. `trace --contacts` over 10,000,000 stored entries (generated with bulk SQL, not through MQTT) for a subject
 *    with 20 passages, window 15 min. Target < 200 ms.
 *
 * Environment: QRGATE_BENCH_INGEST (entries, default 50000), QRGATE_BENCH_ROWS (default 10000000),
 * QRGATE_BENCH_PG (0 to skip PostgreSQL), QRGATE_BENCH_PG_URL (default postgres://root@127.0.0.1:5432/test),
 * QRGATE_BENCH_GEN_BUDGET_S (stop generating rows after this long, default 300; the figure says how many).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import mqtt from "mqtt";
import { pino } from "pino";
import { Collector } from "../../src/centre/collector.js";
import type { EntryStore } from "../../src/centre/entry-store.js";
import { MIGRATIONS } from "../../src/centre/migrations.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { traceContacts } from "../../src/centre/trace-queries.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { fillEntries } from "./pg-bulk.js";

const env = (k: string, d: number): number => (process.env[k] !== undefined ? Number(process.env[k]) : d);
const INGEST_N = env("QRGATE_BENCH_INGEST", 50_000);
const ROWS = env("QRGATE_BENCH_ROWS", 10_000_000);
const GEN_BUDGET_MS = env("QRGATE_BENCH_GEN_BUDGET_S", 300) * 1000;
const WITH_PG = process.env.QRGATE_BENCH_PG !== "0";
const PG_URL = process.env.QRGATE_BENCH_PG_URL ?? "postgres://root@127.0.0.1:5432/test";

const DOORS = 500; // 50 sites x 10 devices, one door each
const PEOPLE = 1_000_000;
const SPAN_MS = 30 * 86_400_000;
const T0 = Date.parse("2021-08-01T00:00:00.000Z");
const WINDOW_MS = 15 * 60_000;
const F0 = "079201000042";

const logger = pino({ level: "warn" }, pino.destination({ fd: 2, sync: true }));
const figures: Record<string, number | string> = {};

function log(line: string): void {
  process.stdout.write(line + "\n");
}

function entry(i: number): EntryMessage {
  const tsMs = T0 + i * 7;
  const h = tsMs.toString(16).padStart(12, "0");
  const n = i.toString(16).padStart(12, "0");
  return {
    id: `${h.slice(0, 8)}-${h.slice(8, 12)}-7000-8000-${n}`,
    ts: new Date(tsMs).toISOString(),
    site: `site-${i % 50}`,
    device: `gate-${i % 10}`,
    door: "main",
    decision: "allow",
    reason: "ok",
    kind: "cccd",
    subject: String(100_000_000_000 + (i % PEOPLE)),
    latencyMs: 12,
    statusVersion: 1,
    stale: false,
  };
}

async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Queues INGEST_N entries for an absent collector, then times it draining them into `store`. */
async function ingest(broker: TestBroker, name: string, store: EntryStore): Promise<void> {
  const group = `bench${name}`;
  const clientId = `bench-${name}`;
  const first = new Collector({ store, url: broker.url, logger, group, clientId });
  await first.start(); // creates the session and its shared subscription
  await first.stop();

  const pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `bench-pub-${name}` });
  const chunk = 2000;
  for (let i = 0; i < INGEST_N; i += chunk) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(i + chunk, INGEST_N); j++) {
      const e = entry(j);
      batch.push(pub.publishAsync(`qrgate/v1/${e.site}/${e.device}/entry`, JSON.stringify(e), { qos: 1 }));
    }
    await Promise.all(batch);
  }
  await pub.endAsync();

  const collector = new Collector({ store, url: broker.url, logger, group, clientId });
  const t = performance.now();
  await collector.start();
  await waitFor(() => collector.stats.acked >= INGEST_N, 600_000);
  const ms = performance.now() - t;
  await collector.stop();
  const stored = await store.countEntries();
  const rate = Math.round((INGEST_N / ms) * 1000);
  figures[`ingest_${name}_per_s`] = rate;
  log(
    `ingest ${name.padEnd(10)} ${INGEST_N} entries in ${(ms / 1000).toFixed(2)} s = ${rate} entries/s ` +
      `(batches ${collector.stats.batches}, largest ${collector.stats.maxBatch}, stored ${stored})`,
  );
}

/**
 * Live: the collector runs while four publishers (gates) send INGEST_N entries as fast as their PUBACKs come back;
 * timed from the first publish to the last entry acknowledged by the collector. Bound by the publishers as much as
 * by the collector, so it is a floor, not the collector's capacity.
 */
async function ingestLive(broker: TestBroker, name: string, store: EntryStore): Promise<void> {
  const collector = new Collector({ store, url: broker.url, logger, group: `live${name}`, clientId: `bench-live-${name}` });
  await collector.start();
  const pubs = await Promise.all(
    [0, 1, 2, 3].map((k) => mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `bench-live-pub-${name}-${k}` })),
  );
  const offset = 10_000_000; // ids distinct from the queued run's
  const t = performance.now();
  await Promise.all(
    pubs.map(async (pub, k) => {
      for (let i = k; i < INGEST_N; i += 4 * 250) {
        const batch: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(i + 4 * 250, INGEST_N); j += 4) {
          const e = entry(offset + j);
          batch.push(pub.publishAsync(`qrgate/v1/${e.site}/${e.device}/entry`, JSON.stringify(e), { qos: 1 }));
        }
        await Promise.all(batch);
      }
    }),
  );
  await waitFor(() => collector.stats.acked >= INGEST_N, 600_000);
  const ms = performance.now() - t;
  await collector.stop();
  await Promise.all(pubs.map((p) => p.endAsync()));
  const rate = Math.round((INGEST_N / ms) * 1000);
  figures[`ingest_live_${name}_per_s`] = rate;
  log(`ingest ${name.padEnd(10)} live from 4 publishers: ${rate} entries/s (batches ${collector.stats.batches}, largest ${collector.stats.maxBatch})`);
}

const DROP_INDEXES = ["entries_door_ts", "entries_subject_ts", "entries_site_ts", "entries_ts"];

/** The migration's index statements, to rebuild after the bulk load (same indexes as a migrated store). */
function indexStatements(): string[] {
  return MIGRATIONS.flatMap((m) => m.sqlite).filter((s) => s.startsWith("CREATE INDEX IF NOT EXISTS entries_"));
}

/** 20 passages of the F0 at random doors over the span, and what the trace answers with. */
function f0Passages(seed: number): EntryMessage[] {
  let a = seed;
  const rnd = (): number => {
    a = (a * 16807) % 2147483647;
    return a / 2147483647;
  };
  return Array.from({ length: 20 }, (_, k) => {
    const d = Math.floor(rnd() * DOORS);
    const tsMs = T0 + Math.floor(rnd() * SPAN_MS);
    return {
      ...entry(0),
      id: `f0000000-0000-7000-8000-${k.toString(16).padStart(12, "0")}`,
      ts: new Date(tsMs).toISOString(),
      site: `site-${Math.floor(d / 10)}`,
      device: `gate-${d % 10}`,
      subject: F0,
    };
  });
}

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** The whole command as a person runs it (Node start-up included), median of 3. */
function timeCli(name: string, db: string): void {
  if (!existsSync(CLI)) return;
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [CLI, "trace", "--db", db, "--contacts", F0, "--window", "15m", "--from", "2021-08-01", "--to", "2021-09-01", "--json"], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    runs.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`qrgate trace exited ${r.status}`);
  }
  const median = runs.sort((x, y) => x - y)[1]!;
  figures[`contacts_${name}_cli_ms`] = Math.round(median);
  log(`qrgate trace --contacts ${name.padEnd(10)} whole command (Node start-up included): median ${median.toFixed(0)} ms`);
}

async function timeContacts(name: string, store: EntryStore, rows: number): Promise<void> {
  const range = { fromMs: T0, toMs: T0 + SPAN_MS };
  const runs: number[] = [];
  let contacts = 0;
  let pairs = 0;
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    const r = await traceContacts(store, F0, range, WINDOW_MS);
    runs.push(performance.now() - t);
    contacts = r.contacts.length;
    pairs = r.contacts.reduce((n, c) => n + c.passages.length, 0);
  }
  const first = runs[0]!;
  const sorted = [...runs.slice(1)].sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  figures[`contacts_${name}_ms`] = Math.round(median * 10) / 10;
  figures[`contacts_${name}_first_ms`] = Math.round(first * 10) / 10;
  figures[`contacts_${name}_rows`] = rows;
  log(
    `trace --contacts ${name.padEnd(10)} over ${rows.toLocaleString("en")} entries, 20 passages, ±15 min: ` +
      `median ${median.toFixed(1)} ms (first ${first.toFixed(1)} ms), ${contacts} contacts, ${pairs} passages`,
  );
}

async function traceSqlite(dir: string): Promise<void> {
  const store = new SqliteEntryStore(join(dir, "trace.db"));
  await store.migrate();
  const db = store.database;
  db.pragma("synchronous = OFF");
  for (const ix of DROP_INDEXES) db.exec(`DROP INDEX IF EXISTS ${ix}`);
  const insert = db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?),
     r(i, d, t, s, x) AS (SELECT i, abs(random()) % ${DOORS}, abs(random()) % ${SPAN_MS}, abs(random()) % ${PEOPLE}, abs(random()) % 10 FROM n)
     INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms)
     SELECT printf('%08x-0000-7000-8000-%012x', i / 1000000, i), ${T0} + t, 'site-' || (d / 10), 'gate-' || (d % 10), 'main',
            CASE WHEN x = 0 THEN 'deny' ELSE 'allow' END, CASE WHEN x = 0 THEN 'insufficient_vaccination' ELSE 'ok' END,
            'cccd', printf('%012d', 100000000000 + s), 10.0, 1, 0, ${T0} + t
     FROM r`,
  );
  const t = performance.now();
  let rows = 0;
  const step = 1_000_000;
  while (rows < ROWS && performance.now() - t < GEN_BUDGET_MS) {
    const n = Math.min(step, ROWS - rows);
    db.transaction(() => insert.run(rows, rows + n - 1))();
    rows += n;
  }
  const genMs = performance.now() - t;
  const ti = performance.now();
  for (const sql of indexStatements()) db.exec(sql);
  const ixMs = performance.now() - ti;
  await store.insertEntries(f0Passages(42));
  db.exec("ANALYZE");
  db.pragma("synchronous = FULL");
  log(`generated ${rows.toLocaleString("en")} SQLite rows in ${(genMs / 1000).toFixed(1)} s, indexes in ${(ixMs / 1000).toFixed(1)} s`);
  await timeContacts("sqlite", store, rows + 20);
  await store.close();
  timeCli("sqlite", join(dir, "trace.db"));
}

async function tracePostgres(url: string): Promise<void> {
  const store = new PostgresEntryStore(url);
  await store.migrate();
  // The partitioned table's own bulk load (pg-bulk.ts): key and indexes dropped, rows, then built again.
  const r = await fillEntries(url, {
    rows: ROWS,
    startMs: T0,
    spanMs: SPAN_MS,
    sites: DOORS / 10,
    doorsPerSite: 10,
    oneDoorPerSite: true,
    people: PEOPLE,
    budgetMs: GEN_BUDGET_MS,
  });
  await store.insertEntries(f0Passages(42));
  await store.query("ANALYZE entries");
  log(`generated ${r.rows.toLocaleString("en")} PostgreSQL rows in ${(r.genMs / 1000).toFixed(1)} s, indexes in ${(r.indexMs / 1000).toFixed(1)} s`);
  await timeContacts("postgres", store, r.rows + 20);
  await store.close();
  timeCli("postgres", url);
}

function schemaUrl(schema: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", schema);
  return u.toString();
}

async function dropSchema(schema: string): Promise<void> {
  const s = new PostgresEntryStore(PG_URL);
  try {
    await s.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await s.close();
  }
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-centre-bench-"));
  const schema = `qrgate_bench_${process.pid}`;
  const broker = await startBroker();
  try {
    log(`centre bench: ingest ${INGEST_N} entries; contacts over ${ROWS.toLocaleString("en")} entries`);
    const sqlite = new SqliteEntryStore(join(dir, "ingest.db"));
    await ingest(broker, "sqlite", sqlite);
    await ingestLive(broker, "sqlite", sqlite);
    await sqlite.close();
    if (WITH_PG) {
      const pg = new PostgresEntryStore(schemaUrl(`${schema}_ingest`));
      try {
        await ingest(broker, "postgres", pg);
        await ingestLive(broker, "postgres", pg);
      } finally {
        await pg.close();
        await dropSchema(`${schema}_ingest`);
      }
    }
    await traceSqlite(dir);
    rmSync(join(dir, "trace.db"), { force: true });
    if (WITH_PG) {
      try {
        await tracePostgres(schemaUrl(`${schema}_trace`));
      } finally {
        await dropSchema(`${schema}_trace`);
      }
    }
    log(`figures ${JSON.stringify(figures)}`);
  } finally {
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`centre bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
