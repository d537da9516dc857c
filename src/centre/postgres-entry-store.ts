/**
 * The city-scale store: PostgreSQL through `pg` (a pool), the same schema and migrations as the SQLite store.
 * `postgres://user@host:5432/db?schema=NAME` puts the tables in schema NAME (created on migrate) instead of
 * the server's default search path. Batches go in as one `INSERT … SELECT FROM unnest(…)` per table.
 */
import pg from "pg";
import type { EntryMessage } from "../contract/entry.js";
import type {
  CollectorLease,
  ContactOptions,
  ContactPair,
  DeviceEvent,
  EntryQuery,
  DeviceState,
  DoorRef,
  EntryStore,
  IngestBatch,
  IngestResult,
  LeaseClaim,
  QueryOptions,
  RejectedMessage,
  SiteDoorRef,
  TimeRange,
} from "./entry-store.js";
import {
  ENTRY_COLUMNS,
  entryTsMs,
  rowToEntry,
  rowToEvent,
  rowToState,
  type EntryRow,
  type EventRow,
  type StateRow,
} from "./entry-row.js";
import { rowToLease, type LeaseRow } from "./lease-row.js";
import { MIGRATIONS, MIGRATIONS_TABLE_SQL, STATE_IS_NEWER } from "./migrations.js";
import { daysAround, dropDaysBefore, ensureDays, isMissingPartition, utcDay } from "./postgres-partitions.js";
import { checkBatch, isDataError } from "./row-refused.js";

const INT8_OID = 20;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Client-side limit of one migration statement (pg takes 0 as "the default", so a long one instead). */
const MIGRATION_TIMEOUT_MS = 24 * 3_600_000;
/** Rows deleted per retention statement: each stays well inside the statement timeout and holds few locks. */
const PURGE_CHUNK = 5000;
/** How often a migrated store makes the days ahead (postgres-partitions.ts). */
const PARTITION_CHECK_MS = 3_600_000;
/** Keyset paging starts before every (ts, id): any id will do, as the first page's ts bound excludes nothing. */
export const FIRST_ID = "00000000-0000-0000-0000-000000000000";
/** Any fixed number: serialises concurrent migrations across processes. */
const MIGRATION_LOCK = 0x71726761; // "qrga"

/**
 * The server's clock in epoch ms: collectors on several hosts compare lease times on one clock. `clock_timestamp()`
 * rather than `now()`, which is the start of the transaction.
 */
const DB_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/** Splits our `schema` parameter off a connection URL (pg would pass it on to the server). */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string | null } {
  const u = new URL(url);
  const schema = u.searchParams.get("schema");
  u.searchParams.delete("schema");
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new RangeError(`schema '${schema}': expected lowercase letters, digits and _`);
  }
  return { connectionString: u.toString(), schema };
}

/** The URL with any password hidden, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}

/** The filter of a listing, as `$1…` SQL and its parameters. */
function postgresWhere(q: EntryQuery): { where: string; params: unknown[] } {
  if ("door" in q) return { where: "site = $1 AND device = $2 AND door = $3", params: [q.door.site, q.door.device, q.door.door] };
  if ("siteDoor" in q) return { where: "site = $1 AND door = $2", params: [q.siteDoor.site, q.siteDoor.door] };
  if ("site" in q) return { where: "site = $1", params: [q.site] };
  return { where: "subject = $1", params: [q.subject] };
}

/**
 * One page of a listing after `(afterTs, afterId)`, in (ts, id) order: the statement `entryPages` runs, exported
 * so that the scale benchmark can EXPLAIN exactly it.
 */
export function entryPageSql(
  query: EntryQuery,
  range: TimeRange,
  opts: QueryOptions | undefined,
  pageSize: number,
  afterTs: number,
  afterId: string,
): { text: string; values: unknown[] } {
  const { where, params } = postgresWhere(query);
  const n = params.length;
  return {
    text: `SELECT ${ENTRY_COLUMNS} FROM entries
       WHERE ${where} AND ts_ms >= $${n + 1} AND ts_ms < $${n + 2}${allowed("", opts)} AND (ts_ms > $${n + 3} OR id > $${n + 4})
       ORDER BY ts_ms, id LIMIT $${n + 5}`,
    values: [...params, Math.max(range.fromMs, afterTs), range.toMs, afterTs, afterId, pageSize],
  };
}

/** Subject passages per pair statement: each is one branch of a UNION ALL with four parameters. */
const PASSAGES_PER_STATEMENT = 100;

/** One of the subject's passages, as the contact query's first step finds it. */
export interface SubjectPassage {
  readonly id: string;
  readonly ts_ms: number;
  readonly site: string;
  readonly door: string;
}

/** The contact query's first step: the subject's passages in the range, in (ts, id) order. */
export function subjectPassagesSql(subject: string, range: TimeRange, opts?: QueryOptions): { text: string; values: unknown[] } {
  return {
    text: `SELECT id::text AS id, ts_ms, site, door FROM entries
       WHERE subject = $1 AND ts_ms >= $2 AND ts_ms < $3${allowed("", opts)}
       ORDER BY ts_ms, id`,
    values: [subject, range.fromMs, range.toMs],
  };
}

/**
 * The contact query's second step: everyone else at the same door (or site) within the window of each passage,
 * ordered by passage then (ts, id). One UNION ALL branch per passage, its time bounds its own parameters: the
 * planner prunes each branch to the one or two days around its passage. A single join of the subject's passages
 * with the table had to plan every day of the range on both sides (30 days: 15-60 ms of planning on a fresh
 * connection, for 2-6 ms of execution); this plans a few partitions per passage.
 */
export function contactPairsSql(
  subject: string,
  passages: readonly SubjectPassage[],
  windowMs: number,
  opts?: ContactOptions,
): { text: string; values: unknown[] } {
  const cols = ENTRY_COLUMNS.split(", ")
    .map((c) => `e.${c}`)
    .join(", ");
  const values: unknown[] = [subject, windowMs];
  const branches = passages.map((p) => {
    const k = values.length;
    values.push(p.id, p.ts_ms, p.site, ...(opts?.scope === "site" ? [] : [p.door]));
    const sameDoor = opts?.scope === "site" ? "" : ` AND e.door = $${k + 4}`;
    return `SELECT $${k + 1}::text AS p_id, $${k + 2}::bigint AS p_ts_ms, ${cols} FROM entries AS e
       WHERE e.site = $${k + 3}${sameDoor}
         AND e.ts_ms >= $${k + 2}::bigint - $2::bigint AND e.ts_ms <= $${k + 2}::bigint + $2::bigint
         AND e.subject IS NOT NULL AND e.subject <> $1${allowed("e.", opts)}`;
  });
  return { text: `${branches.join("\n     UNION ALL\n     ")}\n     ORDER BY p_ts_ms, p_id, ts_ms, id`, values };
}

/** pg's own parsers, except int8 as a number. */
const typeParser: typeof pg.types.getTypeParser = (oid, format) =>
  (oid as number) === INT8_OID ? (v: string): number => Number(v) : (pg.types.getTypeParser(oid, format) as unknown);

const allowed = (alias: string, opts?: QueryOptions): string =>
  opts?.includeDenied === true ? "" : ` AND ${alias}decision = 'allow'`;

export interface PostgresStoreOptions {
  /** Most connections (default 4). */
  readonly max?: number;
  /** Shown in `pg_stat_activity` (default `qrgate-centre`), so an admin can tell our sessions apart. */
  readonly applicationName?: string;
  /** Server-side limit of one statement (default 30 s): a stuck statement fails and is retried, never hangs. */
  readonly statementTimeoutMs?: number;
}

/**
 * Runs `work` on a checked-out client. A checked-out client has no `error` listener of the pool's: a connection
 * dropped while we hold it (server restart, `pg_terminate_backend`, network loss) would emit an unhandled
 * `error` and end the process. The listener here turns it into a failed query; a client that failed in any way
 * (other than a refused row) is destroyed on release rather than handed out again, so the next attempt opens a fresh connection.
 */
async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (e: Error): void => {
    broken = e;
  };
  client.on("error", onError);
  try {
    return await work(client);
  } catch (e) {
    // A refused row leaves the connection healthy (the transaction was rolled back); anything else may not.
    if (!isDataError(e)) broken ??= e instanceof Error ? e : new Error(String(e));
    throw e;
  } finally {
    client.removeListener("error", onError);
    client.release(broken);
  }
}

/** A PostgreSQL array literal of text (or uuid) elements: each quoted, `"` and `\\` escaped, null as NULL. */
function textArray(values: readonly (string | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ",";
    out += v === null || v === undefined ? "NULL" : `"${/["\\]/.test(v) ? v.replace(/["\\]/g, "\\$&") : v}"`;
  }
  return out + "}";
}

/** A PostgreSQL array literal of numbers or booleans; null as NULL. */
function scalarArray(values: readonly (number | boolean | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ",";
    out += v === null || v === undefined ? "NULL" : typeof v === "boolean" ? (v ? "t" : "f") : String(v);
  }
  return out + "}";
}

/**
 * The batch's entries as ONE prepared statement (`name`: parsed and planned once per connection) over thirteen
 * arrays, each passed as one array literal built here: `pg` would otherwise walk and escape every element
 * through its generic value conversion. `rowCount` is the number of new rows.
 */
function insertEntries(batch: IngestBatch): pg.QueryConfig {
  const es = batch.entries;
  const n = es.length;
  const col = <T>(f: (e: EntryMessage) => T): T[] => {
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = f(es[i]!);
    return out;
  };
  return {
    name: "qrgate_insert_entries",
    text: `INSERT INTO entries (${ENTRY_COLUMNS}, received_ms)
           SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                $8::text[], $9::text[], $10::float8[], $11::bigint[], $12::boolean[], $13::bigint[])
           ON CONFLICT DO NOTHING`,
    values: [
      textArray(col((e) => e.id)),
      scalarArray(col((e) => entryTsMs(e))),
      textArray(col((e) => e.site)),
      textArray(col((e) => e.device)),
      textArray(col((e) => e.door)),
      textArray(col((e) => e.decision)),
      textArray(col((e) => e.reason)),
      textArray(col((e) => e.kind)),
      textArray(col((e) => e.subject)),
      scalarArray(col((e) => e.latencyMs)),
      scalarArray(col((e) => e.statusVersion)),
      scalarArray(col((e) => e.stale)),
      scalarArray(col(() => batch.receivedMs)),
    ],
  };
}

export class PostgresEntryStore implements EntryStore {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  readonly schema: string | null;
  private partitionTimer: NodeJS.Timeout | null = null;

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    const { connectionString, schema } = parsePostgresUrl(url);
    this.schema = schema;
    const statementTimeoutMs = opts.statementTimeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString,
      max: opts.max ?? 4,
      ...(schema !== null ? { options: `-c search_path=${schema}` } : {}),
      // Epoch milliseconds and counts are int8; they fit a JavaScript number exactly (< 2^53).
      types: { getTypeParser: typeParser },
      application_name: opts.applicationName ?? "qrgate-centre",
      // A peer that vanished without a FIN (cable, NAT timeout) is found by TCP keepalive, not after hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      statement_timeout: statementTimeoutMs,
      // Client side as well, for a server that stopped answering altogether.
      query_timeout: statementTimeoutMs + 10_000,
      // Our transactions are never idle for more than a round trip. A collector frozen inside one (SIGSTOP, a
      // paused VM) would hold the row locks of its batch, and the collector taking its session over would wait on
      // them when it stores the same entries again: the server ends such a transaction after 10 s.
      idle_in_transaction_session_timeout: Math.min(statementTimeoutMs * 2, 10_000),
      connectionTimeoutMillis: 10_000,
    });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    this.pool.on("error", () => undefined);
  }

  isDataError(e: unknown): boolean {
    return isDataError(e);
  }

  async rejectedMessages(range: TimeRange): Promise<RejectedMessage[]> {
    const r = await this.pool.query<{ topic: string; reason: string; payload: Buffer; received_ms: number }>(
      "SELECT topic, reason, payload, received_ms FROM rejected WHERE received_ms >= $1 AND received_ms < $2 ORDER BY seq",
      [range.fromMs, range.toMs],
    );
    return r.rows.map((x) => ({ topic: x.topic, reason: x.reason, payload: x.payload, receivedMs: x.received_ms }));
  }

  async migrate(): Promise<number> {
    await withClient(this.pool, (client) => this.migrateOn(client));
    // A writer makes the days ahead now and every hour, so ingest normally finds its day made. Not fatal: a day
    // that is missing when an entry comes is made then (commitBatch).
    await this.makeDaysAhead().catch(() => undefined);
    this.partitionTimer ??= setInterval(() => {
      // A failure here costs nothing yet: the next hour tries again, and a missing day is made on demand.
      this.makeDaysAhead().catch(() => undefined);
    }, PARTITION_CHECK_MS);
    this.partitionTimer.unref();
    return this.schemaVersion();
  }

  /** Makes yesterday, today and the next days (UTC) if they are missing; returns how many were made. */
  makeDaysAhead(nowMs = Date.now()): Promise<number> {
    return withClient(this.pool, (client) => ensureDays(client, daysAround(nowMs)));
  }

  private async migrateOn(client: pg.PoolClient): Promise<void> {
    try {
      await client.query("BEGIN");
      // Building an index on a city's worth of entries takes longer than any one ingest statement may.
      await client.query("SET LOCAL statement_timeout = 0");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      if (this.schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(MIGRATIONS_TABLE_SQL);
      const done = new Set(
        (await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const sql of m.postgres) {
          // pg reads a per-query `query_timeout` (client.js `_query`), though its typings do not declare it.
          const q: pg.QueryConfig & { query_timeout: number } = { text: sql, query_timeout: MIGRATION_TIMEOUT_MS };
          await client.query(q);
        }
        await client.query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)", [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }

  async schemaVersion(): Promise<number> {
    const t = await this.pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
    if (t.rows[0]?.t == null) return 0;
    const r = await this.pool.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
    return r.rows[0]?.v ?? 0;
  }

  async commitBatch(batch: IngestBatch): Promise<IngestResult> {
    checkBatch(batch);
    try {
      return await withClient(this.pool, (client) => this.commitOn(client, batch));
    } catch (e) {
      // An entry of a day with no partition yet (a gate's late or early entry): make its days, commit again.
      if (!isMissingPartition(e)) throw e;
      await withClient(this.pool, (client) => ensureDays(client, batch.entries.map((x) => utcDay(entryTsMs(x)))));
      return withClient(this.pool, (client) => this.commitOn(client, batch));
    }
  }

  private async commitOn(client: pg.PoolClient, batch: IngestBatch): Promise<IngestResult> {
    const onlyEntries = batch.states.length === 0 && batch.events.length === 0 && (batch.rejected ?? []).length === 0;
    if (onlyEntries) {
      // The common batch: one statement, which is its own transaction: one round trip, one commit.
      const r = batch.entries.length > 0 ? await client.query(insertEntries(batch)) : null;
      return { newEntries: r?.rowCount ?? 0, newEvents: 0, statesApplied: 0 };
    }
    try {
      await client.query("BEGIN");
      let newEntries = 0;
      if (batch.entries.length > 0) newEntries = (await client.query(insertEntries(batch))).rowCount ?? 0;
      let statesApplied = 0;
      for (const s of batch.states) {
        const r = await client.query(
          `INSERT INTO device_state (site, device, state, ts_ms, version, boot_id, received_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (site, device) DO UPDATE SET state = excluded.state, ts_ms = GREATEST(excluded.ts_ms, device_state.ts_ms),
             version = excluded.version, boot_id = excluded.boot_id, received_ms = excluded.received_ms
           WHERE ${STATE_IS_NEWER}`,
          [s.site, s.device, s.state, s.tsMs, s.version, s.bootId, s.receivedMs],
        );
        statesApplied += r.rowCount ?? 0;
      }
      let newEvents = 0;
      for (const ev of batch.events) {
        const r = await client.query(
          `INSERT INTO events (key, site, device, type, ts_ms, payload, received_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`,
          [ev.key, ev.site, ev.device, ev.type, ev.tsMs, ev.payload, ev.receivedMs],
        );
        newEvents += r.rowCount ?? 0;
      }
      for (const x of batch.rejected ?? []) {
        await client.query("INSERT INTO rejected (topic, reason, payload, received_ms) VALUES ($1, $2, $3, $4)", [
          x.topic,
          x.reason,
          x.payload,
          x.receivedMs,
        ]);
      }
      await client.query("COMMIT");
      return { newEntries, newEvents, statesApplied };
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }

  async insertEntries(entries: readonly EntryMessage[], receivedMs = Date.now()): Promise<number> {
    return (await this.commitBatch({ entries, states: [], events: [], receivedMs })).newEntries;
  }

  async upsertDeviceState(state: DeviceState): Promise<boolean> {
    const r = await this.commitBatch({ entries: [], states: [state], events: [], receivedMs: state.receivedMs });
    return r.statesApplied > 0;
  }

  async insertEvent(event: DeviceEvent): Promise<boolean> {
    const r = await this.commitBatch({ entries: [], states: [], events: [event], receivedMs: event.receivedMs });
    return r.newEvents > 0;
  }

  private async entries(sql: string, params: unknown[]): Promise<EntryMessage[]> {
    const r = await this.pool.query<EntryRow>(sql, params);
    return r.rows.map(rowToEntry);
  }

  entriesAtDoor(door: DoorRef, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]> {
    return this.entries(
      `SELECT ${ENTRY_COLUMNS} FROM entries
       WHERE site = $1 AND device = $2 AND door = $3 AND ts_ms >= $4 AND ts_ms < $5${allowed("", opts)}
       ORDER BY ts_ms, id`,
      [door.site, door.device, door.door, range.fromMs, range.toMs],
    );
  }

  entriesAtSiteDoor(door: SiteDoorRef, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]> {
    return this.entries(
      `SELECT ${ENTRY_COLUMNS} FROM entries
       WHERE site = $1 AND door = $2 AND ts_ms >= $3 AND ts_ms < $4${allowed("", opts)}
       ORDER BY ts_ms, id`,
      [door.site, door.door, range.fromMs, range.toMs],
    );
  }

  async *entryPages(query: EntryQuery, range: TimeRange, opts?: QueryOptions, pageSize = 5000): AsyncGenerator<EntryMessage[]> {
    let afterTs = range.fromMs - 1;
    let afterId = FIRST_ID;
    for (;;) {
      const { text, values } = entryPageSql(query, range, opts, pageSize, afterTs, afterId);
      const r = await this.pool.query<EntryRow>(text, values);
      const rows = r.rows;
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      afterTs = last.ts_ms;
      afterId = last.id;
      yield rows.map(rowToEntry);
      if (rows.length < pageSize) return;
    }
  }

  entriesAtSite(site: string, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]> {
    return this.entries(
      `SELECT ${ENTRY_COLUMNS} FROM entries
       WHERE site = $1 AND ts_ms >= $2 AND ts_ms < $3${allowed("", opts)}
       ORDER BY ts_ms, id`,
      [site, range.fromMs, range.toMs],
    );
  }

  entriesOfSubject(subject: string, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]> {
    return this.entries(
      `SELECT ${ENTRY_COLUMNS} FROM entries
       WHERE subject = $1 AND ts_ms >= $2 AND ts_ms < $3${allowed("", opts)}
       ORDER BY ts_ms, id`,
      [subject, range.fromMs, range.toMs],
    );
  }

  async contactPairs(
    subject: string,
    range: TimeRange,
    windowMs: number,
    opts?: ContactOptions,
  ): Promise<ContactPair[]> {
    const first = subjectPassagesSql(subject, range, opts);
    const passages = (await this.pool.query<SubjectPassage>(first.text, first.values)).rows;
    const pairs: ContactPair[] = [];
    // Passages in order, each statement's answer in order: the concatenation is in (passage, ts, id) order.
    for (let i = 0; i < passages.length; i += PASSAGES_PER_STATEMENT) {
      const { text, values } = contactPairsSql(subject, passages.slice(i, i + PASSAGES_PER_STATEMENT), windowMs, opts);
      const r = await this.pool.query<EntryRow & { p_id: string; p_ts_ms: number }>(text, values);
      for (const row of r.rows) pairs.push({ subjectEntryId: row.p_id, subjectTsMs: row.p_ts_ms, entry: rowToEntry(row) });
    }
    return pairs;
  }

  async deviceStates(): Promise<DeviceState[]> {
    const r = await this.pool.query<StateRow>("SELECT * FROM device_state ORDER BY site, device");
    return r.rows.map(rowToState);
  }

  async events(range: TimeRange): Promise<DeviceEvent[]> {
    const r = await this.pool.query<EventRow>(
      "SELECT * FROM events WHERE ts_ms >= $1 AND ts_ms < $2 ORDER BY ts_ms, key",
      [range.fromMs, range.toMs],
    );
    return r.rows.map(rowToEvent);
  }

  async countEntries(): Promise<number> {
    const r = await this.pool.query<{ n: number }>("SELECT count(*) AS n FROM entries");
    return r.rows[0]?.n ?? 0;
  }

  /**
   * Retention. Entries go by whole UTC days (postgres-partitions.ts `dropDaysBefore`): the day holding `beforeMs`
   * is kept until it has passed. Events and rejected messages, a few rows a day, are deleted in chunks: one DELETE
   * of a month of them would outlast the statement timeout and fail every hour for ever.
   */
  async purge(beforeMs: number): Promise<{ entries: number; events: number; rejected: number }> {
    const chunked = async (table: string, column: string): Promise<number> => {
      let total = 0;
      for (;;) {
        const r = await this.pool.query(
          `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${column} < $1 LIMIT ${PURGE_CHUNK})`,
          [beforeMs],
        );
        const n = r.rowCount ?? 0;
        total += n;
        if (n === 0) return total;
      }
    };
    const entries = await withClient(this.pool, (client) => dropDaysBefore(client, beforeMs));
    // The hourly run is also a chance to make the days ahead, for a collector that never restarts.
    await this.makeDaysAhead().catch(() => undefined);
    return {
      entries,
      events: await chunked("events", "ts_ms"),
      rejected: await chunked("rejected", "received_ms"),
    };
  }

  async acquireLease(c: LeaseClaim): Promise<boolean> {
    // One statement: two claimants of one row serialise on its lock, and the second re-checks the WHERE against
    // the first one's row (INSERT … ON CONFLICT DO UPDATE), so exactly one of them gets an expired lease.
    const r = await this.pool.query(
      `INSERT INTO collector_leases AS l (name, grp, holder, instance, renewed_ms, expires_ms)
       SELECT $1, $2, $3, $4, c.n, c.n + $5 FROM (SELECT ${DB_NOW_MS} AS n) AS c
       ON CONFLICT (name) DO UPDATE SET grp = excluded.grp, holder = excluded.holder, instance = excluded.instance,
         renewed_ms = excluded.renewed_ms, expires_ms = excluded.expires_ms
       WHERE l.expires_ms <= excluded.renewed_ms OR l.holder = excluded.holder`,
      [c.name, c.group, c.holder, c.instance, c.ttlMs],
    );
    return (r.rowCount ?? 0) === 1;
  }

  async renewLease(name: string, instance: string, ttlMs: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE collector_leases SET renewed_ms = c.n, expires_ms = c.n + $3 FROM (SELECT ${DB_NOW_MS} AS n) AS c
       WHERE name = $1 AND instance = $2`,
      [name, instance, ttlMs],
    );
    return (r.rowCount ?? 0) === 1;
  }

  async releaseLease(name: string, instance: string): Promise<boolean> {
    const r = await this.pool.query("DELETE FROM collector_leases WHERE name = $1 AND instance = $2", [name, instance]);
    return (r.rowCount ?? 0) === 1;
  }

  async leases(group: string): Promise<CollectorLease[]> {
    const r = await this.pool.query<LeaseRow>(
      `SELECT name, grp, holder, instance, renewed_ms, expires_ms, expires_ms <= c.n AS expired
       FROM collector_leases, (SELECT ${DB_NOW_MS} AS n) AS c WHERE grp = $1 ORDER BY name`,
      [group],
    );
    return r.rows.map(rowToLease);
  }

  /** Runs SQL on the pool (the benchmark's bulk generator, tests dropping their schema). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, params);
  }

  async close(): Promise<void> {
    if (this.partitionTimer !== null) clearInterval(this.partitionTimer);
    this.partitionTimer = null;
    await this.pool.end();
  }
}
