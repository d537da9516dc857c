/**
 * Bulk entries for the PostgreSQL benchmarks, generated inside the database (`INSERT … SELECT generate_series`),
 * not through MQTT: a month of a country's entries in minutes. Into a migrated store's partitioned `entries`:
 * the days are made, the key and indexes dropped, the rows written in time order (as ingest writes them), then
 * the key and indexes built again from migration 4's own statements, and the table analysed.
 */
import pg from "pg";
import { MIGRATIONS, PARTITION_DAY_MS } from "../../src/centre/migrations.js";
import { parsePostgresUrl } from "../../src/centre/postgres-entry-store.js";

export interface BulkSpec {
  readonly rows: number;
  readonly startMs: number;
  readonly spanMs: number;
  /** Sites; each has `doorsPerSite` doors with one reader each (`gate-K` at `door-K`). */
  readonly sites: number;
  readonly doorsPerSite: number;
  /** Instead: every reader of a site guards its one door, `main` (`doorsPerSite` readers). */
  readonly oneDoorPerSite?: boolean;
  /** Distinct people (12-digit subjects from 100000000000). */
  readonly people: number;
  /** Stop after this long and say how many rows were made (0: no limit). */
  readonly budgetMs: number;
  /** Rows per statement. */
  readonly chunk?: number;
  readonly progress?: (rows: number, ms: number) => void;
}

export interface BulkResult {
  readonly rows: number;
  readonly genMs: number;
  readonly indexMs: number;
}

/** Migration 4's key and index statements, to build again after the load. */
function keyAndIndexes(): string[] {
  const m4 = MIGRATIONS.find((m) => m.version === 4);
  if (m4 === undefined) throw new Error("no migration 4");
  return m4.postgres.filter((s) => s.startsWith("ALTER TABLE entries ADD CONSTRAINT") || s.startsWith("CREATE INDEX entries_"));
}

export async function fillEntries(url: string, spec: BulkSpec): Promise<BulkResult> {
  const { connectionString, schema } = parsePostgresUrl(url);
  const c = new pg.Client({ connectionString, ...(schema !== null ? { options: `-c search_path=${schema}` } : {}) });
  await c.connect();
  try {
    await c.query("SET synchronous_commit = off");
    await c.query("SET statement_timeout = 0");
    await c.query("SELECT qrgate_entry_partitions($1, $2)", [
      Math.floor(spec.startMs / PARTITION_DAY_MS),
      Math.floor((spec.startMs + spec.spanMs - 1) / PARTITION_DAY_MS),
    ]);
    await c.query("ALTER TABLE entries DROP CONSTRAINT entries_pkey");
    await c.query("DROP INDEX entries_site_door_ts, entries_subject_ts, entries_site_ts");
    const chunk = spec.chunk ?? 1_000_000;
    const doors = spec.sites * spec.doorsPerSite;
    const t = performance.now();
    let rows = 0;
    while (rows < spec.rows && (spec.budgetMs === 0 || performance.now() - t < spec.budgetMs)) {
      const n = Math.min(chunk, spec.rows - rows);
      // Row i at startMs + i * span / rows: time order, as the collector writes; door, person and decision at
      // random; a UUIDv7-shaped id from the time and i.
      await c.query(
        `INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms)
         SELECT (lpad(to_hex(ts), 12, '0') || '7000' || '8' || lpad(to_hex(i), 15, '0'))::uuid, ts,
                'site-' || (d / $5), 'gate-' || (d % $5), ${spec.oneDoorPerSite === true ? "'main'" : "'door-' || (d % $5)"},
                CASE WHEN x = 0 THEN 'deny' ELSE 'allow' END, CASE WHEN x = 0 THEN 'insufficient_vaccination' ELSE 'ok' END,
                'cccd', (100000000000 + s)::text, 12.5, 1, false, ts + 40
           FROM (SELECT i, $3::bigint + (i * $4::bigint) / $6::bigint AS ts, floor(random() * $7)::int AS d,
                        floor(random() * $8)::bigint AS s, floor(random() * 10)::int AS x
                   FROM generate_series($1::bigint, $2::bigint) AS i) AS r`,
        [rows, rows + n - 1, spec.startMs, spec.spanMs, spec.doorsPerSite, spec.rows, doors, spec.people],
      );
      rows += n;
      spec.progress?.(rows, performance.now() - t);
    }
    const genMs = performance.now() - t;
    const ti = performance.now();
    for (const sql of keyAndIndexes()) await c.query(sql);
    await c.query("ANALYZE entries");
    return { rows, genMs, indexMs: performance.now() - ti };
  } finally {
    await c.end();
  }
}
