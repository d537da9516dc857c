/**
 * The embedded store: one SQLite file (WAL, `synchronous=FULL` so a committed batch survives a power cut before
 * the collector acknowledges it), zero set-up. better-sqlite3 is synchronous; the interface is async so the
 * PostgreSQL store fits the same callers.
 */
import Database from "better-sqlite3";
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
import { checkBatch, isDataError } from "./row-refused.js";
import { nextPurgeChunk, PURGE_BUDGET_MS, PURGE_FIRST_ROWS } from "./purge-pace.js";
import { PURGE_TABLES, purgeOnWorker, type PurgeStats } from "./sqlite-purge-worker.js";
import { SqliteCommitWorker, type CommitRows } from "./sqlite-commit-worker.js";

export type { PurgeStats } from "./sqlite-purge-worker.js";

export interface SqliteStoreOptions {
  /** Open an existing file only, read-only (trace): never create an empty database by mistake. */
  readonly readonly?: boolean;
}

const ALLOWED_ONLY = (opts?: QueryOptions): string => (opts?.includeDenied === true ? "" : " AND decision = 'allow'");

type Db = Database.Database;

/** Runs synchronous database work as a promise: a throw becomes a rejection, as with the PostgreSQL store. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

export class SqliteEntryStore implements EntryStore {
  readonly kind = "sqlite" as const;
  private readonly db: Db;
  private statements: ReturnType<SqliteEntryStore["prepare"]> | null = null;
  /** Batch commits off the event loop (sqlite-commit-worker.ts); null for an in-memory or read-only database. */
  private readonly committer: SqliteCommitWorker | null;
  /** Rows per purge chunk, as last measured (purge-pace.ts). */
  private purgeChunk = PURGE_FIRST_ROWS;
  private purgeStats: PurgeStats = { chunks: 0, maxChunkMs: 0, overBudget: 0, maxCheckpointMs: 0 };

  constructor(
    readonly path: string,
    opts: SqliteStoreOptions = {},
  ) {
    this.db = new Database(path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
    this.db.pragma("busy_timeout = 10000");
    if (opts.readonly !== true) {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = FULL");
      // 64 MiB of page cache (the default is 2 MiB): the four indexes' pages stay in memory while a batch is
      // written, instead of being read back from the file for every few rows.
      this.db.pragma("cache_size = -65536");
    }
    const inMemory = path === ":memory:" || path === "" || path.startsWith("file::memory:");
    this.committer =
      opts.readonly === true || inMemory
        ? null
        : new SqliteCommitWorker(path, COMMIT_SQL, [
            "busy_timeout = 10000",
            "synchronous = FULL",
            "cache_size = -65536",
            // Checkpoint every ~40 MB of WAL rather than 4 MB: a page that many batches change (the indexes' hot
            // pages) is copied into the file once per checkpoint, not ten times. Commit time per entry -33 %.
            "wal_autocheckpoint = 10000",
          ]);
    // The checkpoints are the commit worker's: the event loop's own small commits (leases) must never be the one
    // that finds the WAL past the limit and copies 40 MB into the file.
    if (this.committer !== null) this.db.pragma("wal_autocheckpoint = 0");
  }

  private prepare(db: Db) {
    return {
      insertEntry: db.prepare(COMMIT_SQL.entry),
      upsertState: db.prepare(COMMIT_SQL.state),
      insertEvent: db.prepare(COMMIT_SQL.event),
      insertRejected: db.prepare(COMMIT_SQL.rejected),
    };
  }

  private get stmts(): ReturnType<SqliteEntryStore["prepare"]> {
    this.statements ??= this.prepare(this.db);
    return this.statements;
  }

  migrate(): Promise<number> {
    return settle(() => this.migrateSync()).then(() => this.schemaVersion());
  }

  private migrateSync(): void {
    const db = this.db;
    db.exec(MIGRATIONS_TABLE_SQL);
    const apply = db.transaction(() => {
      const done = new Set(
        (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const sql of m.sqlite) db.exec(sql);
        db.prepare("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)").run(
          m.version,
          m.name,
          Date.now(),
        );
      }
    });
    // IMMEDIATE takes the write lock first, so two processes migrating at once do it one after the other.
    apply.immediate();
  }

  schemaVersion(): Promise<number> {
    return settle(() => {
      const exists = this.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
        .get();
      if (exists === undefined) return 0;
      const row = this.db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as { v: number | null };
      return row.v ?? 0;
    });
  }

  commitBatch(batch: IngestBatch): Promise<IngestResult> {
    try {
      checkBatch(batch);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const rows = commitRows(batch);
    if (this.committer !== null) return this.committer.commit(rows);
    const s = this.stmts;
    const run = this.db.transaction((b: CommitRows): IngestResult => {
      let newEntries = 0;
      let newEvents = 0;
      let statesApplied = 0;
      for (const e of b.entries) newEntries += s.insertEntry.run(...e).changes;
      for (const st of b.states) statesApplied += s.upsertState.run(st).changes;
      for (const ev of b.events) newEvents += s.insertEvent.run(ev).changes;
      for (const r of b.rejected) s.insertRejected.run(...r);
      return { newEntries, newEvents, statesApplied };
    });
    return settle(() => run(rows));
  }

  isDataError(e: unknown): boolean {
    return isDataError(e);
  }

  rejectedMessages(range: TimeRange): Promise<RejectedMessage[]> {
    return settle(() =>
      (
        this.db
          .prepare("SELECT topic, reason, payload, received_ms FROM rejected WHERE received_ms >= ? AND received_ms < ? ORDER BY seq")
          .all(range.fromMs, range.toMs) as { topic: string; reason: string; payload: Buffer; received_ms: number }[]
      ).map((r) => ({ topic: r.topic, reason: r.reason, payload: r.payload, receivedMs: r.received_ms })),
    );
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

  private entries(sql: string, ...params: unknown[]): Promise<EntryMessage[]> {
    return settle(() => (this.db.prepare(sql).all(...params) as EntryRow[]).map(rowToEntry));
  }

  entriesAtDoor(door: DoorRef, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]> {
    return this.entries(
      `SELECT ${ENTRY_COLUMNS} FROM entries
       WHERE site = ? AND device = ? AND door = ? AND ts_ms >= ? AND ts_ms < ?${ALLOWED_ONLY(opts)}
       ORDER BY ts_ms, id`,
      door.site,
      door.device,
      door.door,
      range.fromMs,
      range.toMs,
    );
  }

  entriesAtSiteDoor(door: SiteDoorRef, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]> {
    return this.entries(
      `SELECT ${ENTRY_COLUMNS} FROM entries INDEXED BY entries_site_door_ts
       WHERE site = ? AND door = ? AND ts_ms >= ? AND ts_ms < ?${ALLOWED_ONLY(opts)}
       ORDER BY ts_ms, id`,
      door.site,
      door.door,
      range.fromMs,
      range.toMs,
    );
  }

  async *entryPages(query: EntryQuery, range: TimeRange, opts?: QueryOptions, pageSize = 5000): AsyncGenerator<EntryMessage[]> {
    const { index, where, params } = sqliteWhere(query);
    const stmt = this.db.prepare(
      `SELECT ${ENTRY_COLUMNS} FROM entries INDEXED BY ${index}
       WHERE ${where} AND ts_ms >= ? AND ts_ms < ?${ALLOWED_ONLY(opts)} AND (ts_ms > ? OR id > ?)
       ORDER BY ts_ms, id LIMIT ?`,
    );
    let afterTs = range.fromMs - 1;
    let afterId = "";
    for (;;) {
      const from = Math.max(range.fromMs, afterTs);
      const rows = await settle(() => stmt.all(...params, from, range.toMs, afterTs, afterId, pageSize) as EntryRow[]);
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
      `SELECT ${ENTRY_COLUMNS} FROM entries INDEXED BY entries_site_ts
       WHERE site = ? AND ts_ms >= ? AND ts_ms < ?${ALLOWED_ONLY(opts)}
       ORDER BY ts_ms, id`,
      site,
      range.fromMs,
      range.toMs,
    );
  }

  entriesOfSubject(subject: string, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]> {
    return this.entries(
      `SELECT ${ENTRY_COLUMNS} FROM entries INDEXED BY entries_subject_ts
       WHERE subject = ? AND ts_ms >= ? AND ts_ms < ?${ALLOWED_ONLY(opts)}
       ORDER BY ts_ms, id`,
      subject,
      range.fromMs,
      range.toMs,
    );
  }

  contactPairs(subject: string, range: TimeRange, windowMs: number, opts?: ContactOptions): Promise<ContactPair[]> {
    const bySite = opts?.scope === "site";
    const allowedP = opts?.includeDenied === true ? "" : " AND p.decision = 'allow'";
    const allowedE = opts?.includeDenied === true ? "" : " AND e.decision = 'allow'";
    const cols = ENTRY_COLUMNS.split(", ")
      .map((c) => `e.${c}`)
      .join(", ");
    // INDEXED BY pins the plans the benchmark measured: the subject's passages from entries_subject_ts, then
    // one range scan of entries_site_door_ts (entries_site_ts for the whole site) per passage.
    const query = (): ContactPair[] => {
      const rows = this.db
      .prepare(
        `SELECT p.id AS p_id, p.ts_ms AS p_ts_ms, ${cols}
         FROM entries AS p INDEXED BY entries_subject_ts
         JOIN entries AS e INDEXED BY ${bySite ? "entries_site_ts" : "entries_site_door_ts"}
           ON e.site = p.site${bySite ? "" : " AND e.door = p.door"}
          AND e.ts_ms >= p.ts_ms - ? AND e.ts_ms <= p.ts_ms + ?
         WHERE p.subject = ? AND p.ts_ms >= ? AND p.ts_ms < ?${allowedP}
           AND e.subject IS NOT NULL AND e.subject <> ?${allowedE}
         ORDER BY p.ts_ms, p.id, e.ts_ms, e.id`,
      )
      .all(windowMs, windowMs, subject, range.fromMs, range.toMs, subject) as (EntryRow & {
      p_id: string;
      p_ts_ms: number;
    })[];
      return rows.map((r) => ({ subjectEntryId: r.p_id, subjectTsMs: r.p_ts_ms, entry: rowToEntry(r) }));
    };
    return settle(query);
  }

  deviceStates(): Promise<DeviceState[]> {
    return settle(() =>
      (this.db.prepare("SELECT * FROM device_state ORDER BY site, device").all() as StateRow[]).map(rowToState),
    );
  }

  events(range: TimeRange): Promise<DeviceEvent[]> {
    return settle(() =>
      (
        this.db
          .prepare("SELECT * FROM events WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, key")
          .all(range.fromMs, range.toMs) as EventRow[]
      ).map(rowToEvent),
    );
  }

  countEntries(): Promise<number> {
    return settle(() => (this.db.prepare("SELECT count(*) AS n FROM entries").get() as { n: number }).n);
  }

  /**
   * Retention, in chunks whose size follows the time the last one took (purge-pace.ts). A file is purged on a
   * worker thread with a connection of its own (sqlite-purge-worker.ts): the collector keeps receiving, committing
   * and acknowledging while a day of a city goes, waiting at most one chunk for the write lock (one synchronous
   * loop over 10M rows once held the event loop for 27 s, past the MQTT keepalive). An in-memory database, which
   * no other connection can open, is purged here, yielding to the event loop between chunks.
   */
  async purge(beforeMs: number): Promise<{ entries: number; events: number; rejected: number }> {
    if (this.path !== ":memory:" && this.path !== "") {
      const r = await purgeOnWorker(this.path, beforeMs, this.purgeChunk);
      this.purgeChunk = r.lastChunk;
      this.purgeStats = r.stats;
      return r.counts;
    }
    this.purgeStats = { chunks: 0, maxChunkMs: 0, overBudget: 0, maxCheckpointMs: 0 };
    const counts = { entries: 0, events: 0, rejected: 0 };
    for (const [table, column] of PURGE_TABLES) counts[table] = await this.purgeTable(table, column, beforeMs);
    return counts;
  }

  /** What the last purge did: how many chunks (the event loop ran between each) and the longest one. */
  get lastPurge(): PurgeStats {
    return this.purgeStats;
  }

  private async purgeTable(table: string, column: string, beforeMs: number): Promise<number> {
    const stmt = this.db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${column} < ? LIMIT ?)`);
    let total = 0;
    for (;;) {
      const limit = this.purgeChunk;
      const t = performance.now();
      // A purge chunk need not survive a power cut (the next purge deletes the rows again): no fsync of its own,
      // which would cost more than the delete and vary with the disk. Set back before anything else runs, so
      // every ingest commit stays FULL, and its fsync carries these pages along.
      this.db.pragma("synchronous = NORMAL");
      let n: number;
      try {
        n = stmt.run(beforeMs, limit).changes;
      } finally {
        this.db.pragma("synchronous = FULL");
      }
      const ms = performance.now() - t;
      this.purgeChunk = nextPurgeChunk(limit, ms);
      const st = this.purgeStats;
      this.purgeStats = {
        chunks: st.chunks + 1,
        maxChunkMs: Math.max(st.maxChunkMs, ms),
        overBudget: st.overBudget + (ms > PURGE_BUDGET_MS ? 1 : 0),
        maxCheckpointMs: 0,
      };
      total += n;
      if (n < limit) return total;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  // Leases: the processes sharing one SQLite file share one host, so the process clock is the store's clock.

  acquireLease(c: LeaseClaim): Promise<boolean> {
    return settle(() => {
      const now = Date.now();
      const r = this.db
        .prepare(
          `INSERT INTO collector_leases (name, grp, holder, instance, renewed_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET grp = excluded.grp, holder = excluded.holder, instance = excluded.instance,
             renewed_ms = excluded.renewed_ms, expires_ms = excluded.expires_ms
           WHERE collector_leases.expires_ms <= excluded.renewed_ms OR collector_leases.holder = excluded.holder`,
        )
        .run(c.name, c.group, c.holder, c.instance, now, now + c.ttlMs);
      return r.changes === 1;
    });
  }

  renewLease(name: string, instance: string, ttlMs: number): Promise<boolean> {
    return settle(() => {
      const now = Date.now();
      const r = this.db
        .prepare("UPDATE collector_leases SET renewed_ms = ?, expires_ms = ? WHERE name = ? AND instance = ?")
        .run(now, now + ttlMs, name, instance);
      return r.changes === 1;
    });
  }

  releaseLease(name: string, instance: string): Promise<boolean> {
    return settle(() => this.db.prepare("DELETE FROM collector_leases WHERE name = ? AND instance = ?").run(name, instance).changes === 1);
  }

  leases(group: string): Promise<CollectorLease[]> {
    return settle(() =>
      (
        this.db
          .prepare(
            `SELECT name, grp, holder, instance, renewed_ms, expires_ms, expires_ms <= ? AS expired
             FROM collector_leases WHERE grp = ? ORDER BY name`,
          )
          .all(Date.now(), group) as LeaseRow[]
      ).map(rowToLease),
    );
  }

  /** The underlying connection, for the benchmark's bulk generator and for tests. */
  get database(): Db {
    return this.db;
  }

  async close(): Promise<void> {
    await this.committer?.close();
    if (this.db.open) this.db.close();
  }
}

/** The filter of a listing, with the index that serves it (the same ones the array queries pin). */
function sqliteWhere(q: EntryQuery): { index: string; where: string; params: unknown[] } {
  if ("door" in q) return { index: "entries_door_ts", where: "site = ? AND device = ? AND door = ?", params: [q.door.site, q.door.device, q.door.door] };
  if ("siteDoor" in q) return { index: "entries_site_door_ts", where: "site = ? AND door = ?", params: [q.siteDoor.site, q.siteDoor.door] };
  if ("site" in q) return { index: "entries_site_ts", where: "site = ?", params: [q.site] };
  return { index: "entries_subject_ts", where: "subject = ?", params: [q.subject] };
}

/** The statements a batch commit runs, on the event loop or on the commit worker. */
const COMMIT_SQL = {
  // Positional: better-sqlite3 binds named parameters by looking each name up in an object made per row.
  entry: `INSERT INTO entries (${ENTRY_COLUMNS}, received_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING`,
  state: `INSERT INTO device_state (site, device, state, ts_ms, version, boot_id, received_ms)
         VALUES (@site, @device, @state, @ts_ms, @version, @boot_id, @received_ms)
         ON CONFLICT (site, device) DO UPDATE SET state = excluded.state, ts_ms = max(excluded.ts_ms, device_state.ts_ms),
           version = excluded.version, boot_id = excluded.boot_id, received_ms = excluded.received_ms
         WHERE ${STATE_IS_NEWER}`,
  event: `INSERT INTO events (key, site, device, type, ts_ms, payload, received_ms)
         VALUES (@key, @site, @device, @type, @ts_ms, @payload, @received_ms) ON CONFLICT (key) DO NOTHING`,
  rejected: "INSERT INTO rejected (topic, reason, payload, received_ms) VALUES (?, ?, ?, ?)",
};

/** A batch as the statements' parameters (checked already). */
function commitRows(b: IngestBatch): CommitRows {
  return {
    entries: b.entries.map((e) => [
      e.id,
      entryTsMs(e),
      e.site,
      e.device,
      e.door,
      e.decision,
      e.reason,
      e.kind,
      e.subject,
      e.latencyMs,
      e.statusVersion,
      e.stale ? 1 : 0,
      b.receivedMs,
    ]),
    states: b.states.map(stateParams),
    events: b.events.map(eventParams),
    rejected: (b.rejected ?? []).map((r) => [r.topic, r.reason, r.payload, r.receivedMs]),
  };
}

export function entryParams(e: EntryMessage, receivedMs: number): Record<string, unknown> {
  return {
    id: e.id,
    ts_ms: entryTsMs(e),
    site: e.site,
    device: e.device,
    door: e.door,
    decision: e.decision,
    reason: e.reason,
    kind: e.kind,
    subject: e.subject,
    latency_ms: e.latencyMs,
    status_version: e.statusVersion,
    stale: e.stale ? 1 : 0,
    received_ms: receivedMs,
  };
}

function stateParams(s: DeviceState): Record<string, unknown> {
  return {
    site: s.site,
    device: s.device,
    state: s.state,
    ts_ms: s.tsMs,
    version: s.version,
    boot_id: s.bootId,
    received_ms: s.receivedMs,
  };
}

function eventParams(e: DeviceEvent): Record<string, unknown> {
  return {
    key: e.key,
    site: e.site,
    device: e.device,
    type: e.type,
    ts_ms: e.tsMs,
    payload: e.payload,
    received_ms: e.receivedMs,
  };
}

