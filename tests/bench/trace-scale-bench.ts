/**
 * Trace and retention at a country's scale (issue 16, "Years of entries"): `npm run bench:trace-scale`, or
 * `node dist/tests/bench/trace-scale-bench.js` after `npm run build`.
 *
 * PostgreSQL: fills a schema of its own with N entries (bulk SQL inside the database, tests/bench/pg-bulk.ts:
 * time ordered over a span of days, random doors and people), then times
 * - `qrgate trace --contacts` and `--door` through the real CLI (a process each, as an investigator runs it;
 *   the process start-up alone is measured too, with `trace --help`), and the same questions in-process;
 * - the SQL underneath with EXPLAIN ANALYZE: partitions planned, indexes used, sequential scans;
 * - the bytes a row takes (heap and indexes), and on a 1M-row sample the old layout (text id, six indexes)
 *   against a text id and a uuid id with today's indexes;
 * - retention: dropping the oldest day (the store's purge) against the old chunked DELETE of the next day,
 *   time and WAL bytes each (after a CHECKPOINT, so both pay their full-page writes).
 * SQLite: the purge of one day of M rows, its longest chunk and the event loop's longest stall meanwhile.
 *
 * Environment (defaults in brackets):
 *   QRGATE_SCALE_ROWS [100000000]  entries (0 skips PostgreSQL); QRGATE_SCALE_DAYS [30] span; QRGATE_SCALE_SITES [1000] (5 doors each);
 *   QRGATE_SCALE_PEOPLE [1000000]; QRGATE_SCALE_GEN_BUDGET_S [0: none] stop generating after this long;
 *   QRGATE_SCALE_PG_URL [postgres://root@127.0.0.1:5432/test]; QRGATE_SCALE_SCHEMA [qrgate_scale];
 *   QRGATE_SCALE_REUSE=1 keep and reuse a filled schema (no regeneration; the retention step eats its two
 *   oldest days each run); QRGATE_SCALE_RETENTION=0 skips the retention step; QRGATE_SCALE_SQLITE_ROWS
 *   [300000] rows of the SQLite day (0 skips); QRGATE_SCALE_PLANS=1 prints whole plans.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { MIGRATIONS, PARTITION_DAY_MS } from "../../src/centre/migrations.js";
import {
  contactPairsSql,
  entryPageSql,
  FIRST_ID,
  PostgresEntryStore,
  subjectPassagesSql,
  type SubjectPassage,
} from "../../src/centre/postgres-entry-store.js";
import { listPartitions, quoteIdent } from "../../src/centre/postgres-partitions.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { traceContacts } from "../../src/centre/trace-queries.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { fillEntries } from "./pg-bulk.js";

const env = (k: string, d: number): number => (process.env[k] !== undefined ? Number(process.env[k]) : d);
const ROWS = env("QRGATE_SCALE_ROWS", 100_000_000);
const DAYS = env("QRGATE_SCALE_DAYS", 30);
const SITES = env("QRGATE_SCALE_SITES", 1000);
const DOORS_PER_SITE = 5;
const PEOPLE = env("QRGATE_SCALE_PEOPLE", 1_000_000);
const GEN_BUDGET_MS = env("QRGATE_SCALE_GEN_BUDGET_S", 0) * 1000;
const SQLITE_ROWS = env("QRGATE_SCALE_SQLITE_ROWS", 300_000);
const PG_URL = process.env.QRGATE_SCALE_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
const SCHEMA = process.env.QRGATE_SCALE_SCHEMA ?? "qrgate_scale";
const REUSE = process.env.QRGATE_SCALE_REUSE === "1";
const PLANS = process.env.QRGATE_SCALE_PLANS === "1";
const RETENTION = process.env.QRGATE_SCALE_RETENTION !== "0";

const T0 = Date.parse("2021-08-01T00:00:00.000Z");
const SPAN_MS = DAYS * PARTITION_DAY_MS;
const WINDOW_MS = 15 * 60_000;
const F0 = "079201000042";
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const figures: Record<string, number | string> = {};
const table: [string, string, string][] = [];

function log(line: string): void {
  process.stdout.write(line + "\n");
}

function fig(key: string, value: number, label: string, shown: string): void {
  figures[key] = Math.round(value * 10) / 10;
  table.push([label, shown, key]);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function schemaUrl(schema: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", schema);
  return u.toString();
}

/** 20 passages of the F0 at random doors over the span (seeded), through the store's own ingest. */
function f0Passages(): EntryMessage[] {
  let a = 42;
  const rnd = (): number => {
    a = (a * 16807) % 2147483647;
    return a / 2147483647;
  };
  return Array.from({ length: 20 }, (_, k) => {
    const site = Math.floor(rnd() * SITES);
    const door = Math.floor(rnd() * DOORS_PER_SITE);
    const tsMs = T0 + PARTITION_DAY_MS * 3 + Math.floor(rnd() * (SPAN_MS - PARTITION_DAY_MS * 4));
    return {
      id: `f0000000-0000-7000-8000-${k.toString(16).padStart(12, "0")}`,
      ts: new Date(tsMs).toISOString(),
      site: `site-${site}`,
      device: `gate-${door}`,
      door: `door-${door}`,
      decision: "allow",
      reason: "ok",
      kind: "cccd",
      subject: F0,
      latencyMs: 12,
      statusVersion: 1,
      stale: false,
    };
  });
}

async function admin<T>(work: (c: pg.Client) => Promise<T>, schema: string | null = null): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, ...(schema !== null ? { options: `-c search_path=${schema}` } : {}) });
  await c.connect();
  try {
    await c.query("SET statement_timeout = 0");
    return await work(c);
  } finally {
    await c.end();
  }
}

async function walLsn(c: pg.Client): Promise<string> {
  return (await c.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l")).rows[0]!.l;
}

async function walSince(c: pg.Client, from: string): Promise<number> {
  return Number((await c.query<{ b: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS b", [from])).rows[0]!.b);
}

interface PlanSummary {
  readonly planningMs: number;
  readonly executionMs: number;
  readonly partitions: number;
  readonly indexes: string[];
  readonly seqScans: number;
}

/** EXPLAIN (ANALYZE, BUFFERS) of a statement, reduced to what says whether it scales. */
async function explain(c: pg.Client, name: string, q: { text: string; values: unknown[] }): Promise<PlanSummary> {
  const r = await c.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${q.text}`, q.values);
  const root = (r.rows[0]!["QUERY PLAN"] as Record<string, unknown>[])[0]!;
  const rels = new Set<string>();
  const indexes = new Set<string>();
  let seqScans = 0;
  const walk = (n: Record<string, unknown>): void => {
    if (typeof n["Relation Name"] === "string") rels.add(n["Relation Name"]);
    if (typeof n["Index Name"] === "string") indexes.add(n["Index Name"].replace(/^entries_\d{8}_/, "entries_*_"));
    if (n["Node Type"] === "Seq Scan") seqScans++;
    for (const child of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk(root.Plan as Record<string, unknown>);
  const s: PlanSummary = {
    planningMs: root["Planning Time"] as number,
    executionMs: root["Execution Time"] as number,
    partitions: rels.size,
    indexes: [...indexes].sort(),
    seqScans,
  };
  log(
    `EXPLAIN ${name}: planning ${s.planningMs.toFixed(1)} ms, execution ${s.executionMs.toFixed(1)} ms, ` +
      `${s.partitions} partitions, ${s.seqScans} seq scans, indexes ${s.indexes.join(" ")}`,
  );
  if (PLANS) {
    const t = await c.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.text}`, q.values);
    log(t.rows.map((x) => x["QUERY PLAN"]).join("\n"));
  }
  return s;
}

function cli(args: readonly string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "inherit"] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`qrgate ${args.join(" ")} exited ${r.status}`);
  return ms;
}

/** Bytes per row of `rows` rows in `table` (heap, indexes). */
async function sizes(c: pg.Client, tables: string, rows: number): Promise<{ heap: number; index: number }> {
  const r = await c.query<{ heap: string; index: string }>(
    `SELECT sum(pg_table_size(t))::text AS heap, sum(pg_indexes_size(t))::text AS index FROM (${tables}) AS x(t)`,
  );
  return { heap: Number(r.rows[0]!.heap) / rows, index: Number(r.rows[0]!.index) / rows };
}

async function rowSizes(schema: string, rows: number): Promise<void> {
  await admin(async (c) => {
    const all = await sizes(c, "SELECT inhrelid FROM pg_inherits WHERE inhparent = 'entries'::regclass", rows);
    fig("pg_row_heap_bytes", all.heap, "row size: heap (uuid id)", `${all.heap.toFixed(0)} B`);
    fig("pg_row_index_bytes", all.index, "row size: indexes (key + 3)", `${all.index.toFixed(0)} B`);
    fig("pg_row_total_bytes", all.heap + all.index, "row size: total", `${(all.heap + all.index).toFixed(0)} B`);
    // The same rows in three layouts, on a sample: what the uuid key and the fewer indexes each save.
    const n = Math.min(rows, 1_000_000);
    const cols = "ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms";
    await c.query("DROP TABLE IF EXISTS size_old, size_text, size_uuid");
    await c.query(`CREATE TABLE size_uuid AS SELECT id, ${cols} FROM entries LIMIT ${n}`);
    await c.query(`CREATE TABLE size_text AS SELECT id::text AS id, ${cols} FROM size_uuid`);
    await c.query(`CREATE TABLE size_old AS SELECT * FROM size_text`);
    for (const t of ["size_uuid", "size_text"]) {
      await c.query(`ALTER TABLE ${t} ADD PRIMARY KEY (id, ts_ms)`);
      await c.query(`CREATE INDEX ON ${t} (site, door, ts_ms)`);
      await c.query(`CREATE INDEX ON ${t} (subject, ts_ms)`);
      await c.query(`CREATE INDEX ON ${t} (site, ts_ms)`);
    }
    // Version 3's layout: text primary key and its five indexes.
    await c.query("ALTER TABLE size_old ADD PRIMARY KEY (id)");
    for (const ix of ["(site, device, door, ts_ms)", "(subject, ts_ms)", "(site, ts_ms)", "(ts_ms)", "(site, door, ts_ms)"]) {
      await c.query(`CREATE INDEX ON size_old ${ix}`);
    }
    const old = await sizes(c, "VALUES ('size_old'::regclass)", n);
    const text = await sizes(c, "VALUES ('size_text'::regclass)", n);
    const uuid = await sizes(c, "VALUES ('size_uuid'::regclass)", n);
    const show = (s: { heap: number; index: number }): string =>
      `${(s.heap + s.index).toFixed(0)} B (heap ${s.heap.toFixed(0)} + indexes ${s.index.toFixed(0)})`;
    fig("sample_old_bytes", old.heap + old.index, `v3 layout: text id, pkey + 5 indexes (${n} rows)`, show(old));
    fig("sample_text_bytes", text.heap + text.index, "text id, pkey (id, ts) + 3 indexes", show(text));
    fig("sample_uuid_bytes", uuid.heap + uuid.index, "uuid id, pkey (id, ts) + 3 indexes (now)", show(uuid));
    fig(
      "uuid_saves_bytes",
      text.heap + text.index - uuid.heap - uuid.index,
      "uuid key saves per row",
      `${(text.heap + text.index - uuid.heap - uuid.index).toFixed(0)} B (${(((text.heap + text.index - uuid.heap - uuid.index) * 100e6) / 2 ** 30).toFixed(1)} GiB per 100M rows)`,
    );
    await c.query("DROP TABLE size_old, size_text, size_uuid");
  }, schema);
}

async function traces(store: PostgresEntryStore, schema: string, url: string, rows: number): Promise<void> {
  const f0 = f0Passages();
  const first = f0[0]!;
  const range = { fromMs: T0, toMs: T0 + SPAN_MS };
  const day = Math.floor(Date.parse(first.ts) / PARTITION_DAY_MS) * PARTITION_DAY_MS;
  const dayRange = { fromMs: day, toMs: day + PARTITION_DAY_MS };
  const weekRange = { fromMs: day, toMs: day + 7 * PARTITION_DAY_MS };
  const door = { site: first.site, door: first.door };

  // In-process: the store's own queries (first run cold-ish, then the median of 7).
  const timed = async (fn: () => Promise<number>): Promise<{ first: number; median: number; n: number }> => {
    const runs: number[] = [];
    let n = 0;
    for (let i = 0; i < 8; i++) {
      const t = performance.now();
      n = await fn();
      runs.push(performance.now() - t);
    }
    return { first: runs[0]!, median: median(runs.slice(1)), n };
  };
  const contacts = await timed(async () => (await traceContacts(store, F0, range, WINDOW_MS)).contacts.length);
  const listing = async (r: { fromMs: number; toMs: number }): Promise<number> => {
    let n = 0;
    for await (const page of store.entryPages({ siteDoor: door }, r)) n += page.length;
    return n;
  };
  const door1 = await timed(() => listing(dayRange));
  const door7 = await timed(() => listing(weekRange));
  const rowsLabel = `${(rows / 1e6).toFixed(1)}M`;
  fig("contacts_query_ms", contacts.median, `contacts (store, ${DAYS} d range, 20 passages, ±15 min), ${rowsLabel}`, `${contacts.median.toFixed(1)} ms (first ${contacts.first.toFixed(0)}), ${contacts.n} contacts`);
  fig("door_day_query_ms", door1.median, `door, 1 day (store), ${rowsLabel}`, `${door1.median.toFixed(1)} ms (first ${door1.first.toFixed(0)}), ${door1.n} passages`);
  fig("door_week_query_ms", door7.median, `door, 7 days (store), ${rowsLabel}`, `${door7.median.toFixed(1)} ms (first ${door7.first.toFixed(0)}), ${door7.n} passages`);

  // The real CLI, a process per question.
  const iso = (ms: number): string => new Date(ms).toISOString();
  const startup = median([0, 1, 2, 3, 4].map(() => cli(["trace", "--help"])));
  const contactsCli = median(
    [0, 1, 2, 3, 4].map(() => cli(["trace", "--db", url, "--contacts", F0, "--window", "15m", "--from", iso(range.fromMs), "--to", iso(range.toMs), "--json"])),
  );
  const doorCli = median(
    [0, 1, 2, 3, 4].map(() =>
      cli(["trace", "--db", url, "--door", door.door, "--site", door.site, "--from", iso(dayRange.fromMs), "--to", iso(dayRange.toMs), "--json"]),
    ),
  );
  fig("cli_startup_ms", startup, "CLI process start-up (trace --help)", `${startup.toFixed(0)} ms`);
  fig("cli_contacts_ms", contactsCli, `qrgate trace --contacts (wall, ${DAYS} d), ${rowsLabel}`, `${contactsCli.toFixed(0)} ms (${(contactsCli - startup).toFixed(0)} past start-up)`);
  fig("cli_door_ms", doorCli, `qrgate trace --door D --site S (wall, 1 d), ${rowsLabel}`, `${doorCli.toFixed(0)} ms (${(doorCli - startup).toFixed(0)} past start-up)`);

  await admin(async (c) => {
    // The contact query's two steps: the subject's passages, then everyone near each of them.
    const first = subjectPassagesSql(F0, range);
    const f = await explain(c, "contacts, step 1", first);
    fig("explain_contacts_1_ms", f.executionMs, "EXPLAIN contacts, 1 (subject's passages)", `${f.executionMs.toFixed(1)} ms (${f.planningMs.toFixed(1)}), ${f.partitions} partitions, ${f.seqScans} seq scans`);
    const passages = (await c.query<SubjectPassage>(first.text, first.values)).rows.map((x) => ({ ...x, ts_ms: Number(x.ts_ms) }));
    const p = await explain(c, "contacts, step 2", contactPairsSql(F0, passages, WINDOW_MS));
    fig("explain_contacts_ms", p.executionMs, `EXPLAIN contacts, 2 (${passages.length} passages)`, `${p.executionMs.toFixed(1)} ms (${p.planningMs.toFixed(1)}), ${p.partitions} partitions, ${p.seqScans} seq scans`);
    const d = await explain(c, "door 1 d", entryPageSql({ siteDoor: door }, dayRange, undefined, 5000, dayRange.fromMs - 1, FIRST_ID));
    fig("explain_door_ms", d.executionMs, "EXPLAIN door 1 d", `${d.executionMs.toFixed(1)} ms (${d.planningMs.toFixed(1)}), ${d.partitions} partitions, ${d.seqScans} seq scans`);
    const s = await explain(c, "subject", entryPageSql({ subject: F0 }, range, undefined, 5000, range.fromMs - 1, FIRST_ID));
    fig("explain_subject_ms", s.executionMs, `EXPLAIN subject ${DAYS} d`, `${s.executionMs.toFixed(1)} ms (${s.planningMs.toFixed(1)}), ${s.partitions} partitions, ${s.seqScans} seq scans`);
  }, schema);
}

/** Retention: the store's purge drops the oldest day; the old way DELETEs the next one in chunks. */
async function retention(store: PostgresEntryStore, schema: string): Promise<void> {
  const parts = (await listPartitions(store)).filter((p) => p.toMs <= T0 + SPAN_MS);
  if (parts.length < 3) {
    log("retention: fewer than three generated days left, skipped");
    return;
  }
  const [oldest, next] = [parts[0]!, parts[1]!];
  await admin(async (c) => {
    const rowsOf = async (name: string): Promise<number> =>
      (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(name)}`)).rows[0]!.n;
    await c.query("CHECKPOINT");
    let lsn = await walLsn(c);
    let t = performance.now();
    const purged = await store.purge(oldest.toMs);
    const dropMs = performance.now() - t;
    const dropWal = await walSince(c, lsn);
    const nextRows = await rowsOf(next.name);
    await c.query("CHECKPOINT");
    lsn = await walLsn(c);
    t = performance.now();
    // Version 3's purge, statement for statement, on one day's table.
    let deleted = 0;
    for (;;) {
      const r = await c.query(
        `DELETE FROM ${quoteIdent(next.name)} WHERE ctid IN (SELECT ctid FROM ${quoteIdent(next.name)} WHERE ts_ms < $1 LIMIT 5000)`,
        [next.toMs],
      );
      deleted += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) === 0) break;
    }
    const deleteMs = performance.now() - t;
    const deleteWal = await walSince(c, lsn);
    const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
    fig("drop_day_ms", dropMs, `retention: drop one day (${purged.entries} rows, count included)`, `${dropMs.toFixed(0)} ms, WAL ${mb(dropWal)}`);
    fig("drop_day_wal_bytes", dropWal, "retention: drop one day, WAL bytes", String(dropWal));
    fig("delete_day_ms", deleteMs, `retention: old chunked DELETE of one day (${deleted} of ${nextRows} rows)`, `${deleteMs.toFixed(0)} ms, WAL ${mb(deleteWal)}`);
    fig("delete_day_wal_bytes", deleteWal, "retention: DELETE one day, WAL bytes", String(deleteWal));
    // Leave the emptied day to the next purge (a run with QRGATE_SCALE_REUSE=1 measures on the next two).
    await store.purge(next.toMs);
  }, schema);
}

/**
 * SQLite: the purge of one day of `n` rows (on its worker thread), while the event loop commits small batches as
 * the collector would: how long those commits took at most, and the longest the loop was held. On a loaded box
 * the timer's gap also counts time the process was not scheduled at all.
 */
async function sqlitePurge(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qrgate-scale-"));
  const store = new SqliteEntryStore(join(dir, "centre.db"));
  try {
    await store.migrate();
    const db = store.database;
    const indexes = MIGRATIONS.flatMap((m) => m.sqlite).filter((s) => s.startsWith("CREATE INDEX IF NOT EXISTS entries_"));
    for (const ix of ["entries_door_ts", "entries_subject_ts", "entries_site_ts", "entries_ts", "entries_site_door_ts"]) db.exec(`DROP INDEX ${ix}`);
    const t = performance.now();
    db.pragma("synchronous = OFF");
    db.exec(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${n - 1})
       INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms)
       SELECT printf('%08x-0000-7000-8000-%012x', i / 1000000, i), ${T0} + i * ${PARTITION_DAY_MS} / ${n}, 'site-' || (abs(random()) % ${SITES}),
              'gate-1', 'door-1', 'allow', 'ok', 'cccd', printf('%012d', 100000000000 + abs(random()) % ${PEOPLE}), 10.0, 1, 0, ${T0}
       FROM n`,
    );
    for (const sql of indexes) db.exec(sql);
    db.pragma("synchronous = FULL");
    log(`generated ${n.toLocaleString("en")} SQLite rows of one day in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    // The same commits without a purge first, for 5 s: what a commit costs on this disk anyway (its own fsync).
    let j = 0;
    const baseline: number[] = [];
    const baseEnd = performance.now() + 5000;
    while (performance.now() < baseEnd) {
      const batch = Array.from({ length: 10 }, (): EntryMessage => {
        j++;
        return { ...f0Passages()[0]!, id: `b0000000-0000-7000-8000-${j.toString(16).padStart(12, "0")}`, ts: new Date(T0 + 3 * PARTITION_DAY_MS + j).toISOString() };
      });
      const t0 = performance.now();
      await store.insertEntries(batch);
      baseline.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const bs = baseline.sort((a, b) => a - b);
    fig("sqlite_commit_baseline_max_ms", bs[bs.length - 1]!, "SQLite: the same commits without a purge, longest (p99)", `${bs[bs.length - 1]!.toFixed(1)} ms (${bs[Math.floor(bs.length * 0.99)]!.toFixed(1)} ms), ${bs.length} commits`);
    const h = monitorEventLoopDelay({ resolution: 1 });
    // A timer that should fire every 5 ms: its longest gap is the longest the loop was held.
    let last = performance.now();
    let maxGap = 0;
    // Meanwhile, ingest as the collector does it: a batch of 10 entries committed every 5 ms, each timed (the
    // commit runs on the event loop and may wait for a purge chunk's write lock).
    const commits: number[] = [];
    let k = 0;
    let committing = false;
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      if (committing) return;
      committing = true;
      const batch = Array.from({ length: 10 }, (): EntryMessage => {
        const tsMs = T0 + 2 * PARTITION_DAY_MS + k++;
        return { ...f0Passages()[0]!, id: `c0000000-0000-7000-8000-${k.toString(16).padStart(12, "0")}`, ts: new Date(tsMs).toISOString() };
      });
      const t = performance.now();
      void store.insertEntries(batch).then(() => {
        commits.push(performance.now() - t);
        committing = false;
      });
    }, 5);
    h.enable();
    const tp = performance.now();
    const r = await store.purge(T0 + PARTITION_DAY_MS);
    const purgeMs = performance.now() - tp;
    h.disable();
    clearInterval(ticker);
    const stats = store.lastPurge;
    fig("sqlite_purge_ms", purgeMs, `SQLite purge of one day (${r.entries} of ${n} rows), total`, `${(purgeMs / 1000).toFixed(1)} s in ${stats.chunks} chunks`);
    fig("sqlite_purge_max_chunk_ms", stats.maxChunkMs, "SQLite purge: longest chunk (write lock held, worker)", `${stats.maxChunkMs.toFixed(1)} ms`);
    fig("sqlite_purge_over_budget", stats.overBudget, "SQLite purge: chunks over 50 ms", `${stats.overBudget} of ${stats.chunks}`);
    fig("sqlite_purge_max_checkpoint_ms", stats.maxCheckpointMs, "SQLite purge: longest checkpoint (worker, no lock)", `${stats.maxCheckpointMs.toFixed(1)} ms`);
    const sorted = [...commits].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    fig("sqlite_commits_during_purge", commits.length, "SQLite: 10-entry commits during the purge", String(commits.length));
    fig("sqlite_commit_max_ms", sorted[sorted.length - 1] ?? 0, "SQLite: those commits, longest (p99)", `${(sorted[sorted.length - 1] ?? 0).toFixed(1)} ms (${p99.toFixed(1)} ms)`);
    fig("sqlite_purge_max_gap_ms", maxGap, "SQLite purge: longest gap of a 5 ms timer", `${maxGap.toFixed(1)} ms (loop delay max ${(h.max / 1e6).toFixed(1)} ms)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The PostgreSQL part: fill (or reuse), sizes, traces, retention. */
async function postgres(): Promise<void> {
  const url = schemaUrl(SCHEMA);
  log(`trace scale bench: ${ROWS.toLocaleString("en")} entries over ${DAYS} days, ${SITES * DOORS_PER_SITE} doors, ${PEOPLE.toLocaleString("en")} people; schema ${SCHEMA}`);
  const existing = await admin(async (c) => {
    const r = await c.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [`${SCHEMA}.entries`]);
    if (r.rows[0]?.t != null && REUSE) {
      return Number((await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${SCHEMA}.entries`)).rows[0]!.n);
    }
    await c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    return 0;
  });
  const store = new PostgresEntryStore(url, { statementTimeoutMs: 600_000 });
  try {
    await store.migrate();
    let rows = existing;
    if (rows === 0) {
      const r = await fillEntries(url, {
        rows: ROWS,
        startMs: T0,
        spanMs: SPAN_MS,
        sites: SITES,
        doorsPerSite: DOORS_PER_SITE,
        people: PEOPLE,
        budgetMs: GEN_BUDGET_MS,
        progress: (n, ms) => {
          if (n % 10_000_000 === 0 || n === ROWS) log(`  ${n.toLocaleString("en")} rows in ${(ms / 1000).toFixed(0)} s`);
        },
      });
      rows = r.rows;
      fig("gen_rows", r.rows, "rows generated", r.rows.toLocaleString("en"));
      fig("gen_s", r.genMs / 1000, "generation (INSERT … SELECT generate_series)", `${(r.genMs / 1000).toFixed(0)} s (${((r.rows / r.genMs) * 1000).toFixed(0)} rows/s)`);
      fig("index_s", r.indexMs / 1000, "key + 3 indexes built after, and ANALYZE", `${(r.indexMs / 1000).toFixed(0)} s`);
      fig(
        "gen_100m_estimate_min",
        ((r.genMs + r.indexMs) * (100e6 / r.rows)) / 60_000,
        "100M rows at this rate (linear estimate)",
        `${(((r.genMs + r.indexMs) * (100e6 / r.rows)) / 60_000).toFixed(0)} min`,
      );
    }
    rows += await store.insertEntries(f0Passages());
    fig("rows", rows, "entries in the table", rows.toLocaleString("en"));
    await rowSizes(SCHEMA, rows);
    await traces(store, SCHEMA, url, rows);
    if (RETENTION) await retention(store, SCHEMA);
  } finally {
    await store.close();
    if (!REUSE) await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));
  }
}

export async function main(): Promise<void> {
  if (ROWS > 0) await postgres();
  if (SQLITE_ROWS > 0) await sqlitePurge(SQLITE_ROWS);
  const w = Math.max(...table.map((r) => r[0].length));
  log("");
  for (const [label, shown] of table) log(`${label.padEnd(w)}  ${shown}`);
  log("targets: trace --contacts < 200 ms and --door < 100 ms over 100M entries; SQLite purge never holds the loop > 50 ms");
  log(`figures ${JSON.stringify(figures)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`trace scale bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
