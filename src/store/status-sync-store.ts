/**
 * The store side of status sync (docs/contract.md §5.7): a snapshot staged chunk by chunk in `status_sync_stage`
 * and swapped in by one transaction, deltas applied each in one transaction, and the sync position (snapshot
 * version, delta seq) kept with the table so it survives restarts.
 *
 * Crash safety: each chunk's rows and its record in `status_sync_chunks` commit together, so after a crash the
 * staged chunks are known and only the missing ones are fetched again; until the swap, `status` is untouched and
 * decides. The pending manifest is kept in `settings`, so a restart resumes the same snapshot.
 */
import type { SnapshotManifest, StatusDelta } from "../core/sync-messages.js";
import type { StatusRow } from "../core/status-row.js";
import type { Statement } from "better-sqlite3";
import type { SqliteDb } from "./database.js";
import { SETTING, Settings } from "./settings.js";

/** Setting keys of the sync position (kept apart from SETTING, which other modules share). */
export const SYNC_SETTING = {
  snapshotVersion: "sync.snapshot_version",
  deltaSeq: "sync.delta_seq",
  pendingManifest: "sync.pending_manifest",
} as const;

export interface SyncPosition {
  /** The table's version (what entries carry as statusVersion). */
  readonly version: number;
  /** The centre snapshot the table rests on; 0 when none was ever applied. */
  readonly snapshotVersion: number;
  /** The last delta applied on top of it; 0 when none. */
  readonly seq: number;
  /** The data's time (publication time of the last snapshot or delta applied), ms since the epoch; null before any. */
  readonly updatedMs: number | null;
  readonly rows: number;
}

const COLUMNS = "id, status, doses, last_dose, recovered_on, dob, zone, flags";
const STAGE = "status_sync_stage";
const RETIRED = "status_sync_retired";
const STAGE_DDL = `CREATE TABLE ${STAGE} (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, doses INTEGER NOT NULL, last_dose TEXT,
  recovered_on TEXT, dob TEXT, zone TEXT, flags TEXT NOT NULL DEFAULT '') WITHOUT ROWID`;

const params = (r: StatusRow): [string, string, number, string | null, string | null, string | null, string | null, string] => [
  r.id, r.status, r.doses, r.lastDose, r.recoveredOn, r.dob, r.zone, r.flags.join(";"),
];

export class StatusSyncStore {
  private readonly settings: Settings;
  private stageStmts: { insert: Statement; mark: Statement } | null = null;

  constructor(private readonly db: SqliteDb) {
    this.settings = new Settings(db);
  }

  position(): SyncPosition {
    const n = (k: string): number | undefined => this.settings.getNumber(k);
    return {
      version: n(SETTING.statusVersion) ?? 0,
      snapshotVersion: n(SYNC_SETTING.snapshotVersion) ?? 0,
      seq: n(SYNC_SETTING.deltaSeq) ?? 0,
      updatedMs: n(SETTING.statusUpdatedMs) ?? null,
      rows: n(SETTING.statusRows) ?? 0,
    };
  }

  /** The snapshot being staged, if any (it survives restarts). */
  pending(): SnapshotManifest | null {
    const text = this.settings.get(SYNC_SETTING.pendingManifest);
    if (text === undefined || text === "") return null;
    try {
      return JSON.parse(text) as SnapshotManifest;
    } catch {
      return null;
    }
  }

  /** Starts staging `m` from nothing (whatever was staged before is dropped). */
  begin(m: SnapshotManifest): void {
    this.stageStmts = null;
    this.db
      .transaction(() => {
        this.db.exec(`DROP TABLE IF EXISTS ${STAGE}`);
        this.db.exec(STAGE_DDL);
        this.db.exec("DELETE FROM status_sync_chunks");
        this.settings.set(SYNC_SETTING.pendingManifest, JSON.stringify(m));
      })
      .immediate();
  }

  /** Chunk indexes already staged for the pending snapshot. */
  stagedChunks(): Set<number> {
    if (this.pending() === null) return new Set();
    const rows = this.db.prepare<[], { idx: number }>("SELECT idx FROM status_sync_chunks").all();
    return new Set(rows.map((r) => r.idx));
  }

  /**
   * Stages rows in one transaction; with `completesChunk`, records that chunk as staged in the same transaction.
   * A row whose ID is already staged replaces it (re-staging part of a chunk after a crash is harmless; an ID given
   * twice across chunks shows as a row count short of the manifest's at commit).
   */
  stage(rows: readonly StatusRow[], completesChunk: number | null): void {
    // Prepared once per stage table (it comes and goes with each snapshot).
    this.stageStmts ??= {
      insert: this.db.prepare(`INSERT OR REPLACE INTO ${STAGE} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      mark: this.db.prepare("INSERT OR IGNORE INTO status_sync_chunks (idx) VALUES (?)"),
    };
    const { insert, mark } = this.stageStmts;
    this.db.transaction(() => {
      for (const r of rows) insert.run(...params(r));
      if (completesChunk !== null) mark.run(completesChunk);
    })();
  }

  /**
   * Swaps the staged snapshot in, in one transaction, or returns why not (nothing changes then, the stage is
   * dropped). `dataMs` is recorded as the table's time.
   */
  commit(dataMs: number): string | null {
    const m = this.pending();
    if (m === null) return "no snapshot is being staged";
    const staged = (this.db.prepare(`SELECT count(*) AS n FROM ${STAGE}`).get() as { n: number }).n;
    if (staged !== m.rows) {
      this.abandon();
      return `staged ${staged} distinct IDs, the manifest says ${m.rows} rows: an ID is given twice`;
    }
    this.stageStmts = null;
    this.db
      .transaction(() => {
        // Dropping a million-row table frees every page at once (a long pause for scans); it is renamed aside
        // and emptied in small batches afterwards instead (dropRetired).
        this.db.exec(`DROP TABLE IF EXISTS ${RETIRED}`);
        this.db.exec(`ALTER TABLE status RENAME TO ${RETIRED}`);
        this.db.exec(`ALTER TABLE ${STAGE} RENAME TO status`);
        this.db.exec("DELETE FROM status_sync_chunks");
        this.settings.set(SYNC_SETTING.pendingManifest, "");
        this.settings.set(SYNC_SETTING.snapshotVersion, m.version);
        this.settings.set(SYNC_SETTING.deltaSeq, 0);
        this.settings.set(SETTING.statusVersion, m.version);
        this.settings.set(SETTING.statusRows, m.rows);
        this.settings.set(SETTING.statusUpdatedMs, dataMs);
      })
      .immediate();
    return null;
  }

  /**
   * Deletes up to `maxRows` rows of the table a swap retired, dropping it once empty; returns true when there is
   * nothing left to do. Each call is one short transaction, so scans go on between calls.
   */
  dropRetired(maxRows: number): boolean {
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(RETIRED);
    if (exists === undefined) return true;
    const n = this.db.prepare(`DELETE FROM ${RETIRED} WHERE id IN (SELECT id FROM ${RETIRED} LIMIT ?)`).run(maxRows).changes;
    if (n > 0) return false;
    this.db.exec(`DROP TABLE ${RETIRED}`);
    return true;
  }

  /** Forgets the pending snapshot and its stage; the live table is untouched. */
  abandon(): void {
    this.stageStmts = null;
    this.db
      .transaction(() => {
        this.db.exec(`DROP TABLE IF EXISTS ${STAGE}`);
        this.db.exec("DELETE FROM status_sync_chunks");
        this.settings.set(SYNC_SETTING.pendingManifest, "");
      })
      .immediate();
  }

  /** Applies a delta's rows to the live table and moves the position to it, all in one transaction. */
  applyDelta(d: StatusDelta, rows: readonly StatusRow[], dataMs: number): void {
    const upsert = this.db.prepare(
      `INSERT INTO status (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, doses = excluded.doses, last_dose = excluded.last_dose,
         recovered_on = excluded.recovered_on, dob = excluded.dob, zone = excluded.zone, flags = excluded.flags`,
    );
    const exists = this.db.prepare<[string]>("SELECT 1 FROM status WHERE id = ?");
    this.db
      .transaction(() => {
        let added = 0;
        for (const r of rows) {
          const before = exists.get(r.id);
          upsert.run(...params(r));
          if (before === undefined) added++;
        }
        this.settings.set(SYNC_SETTING.deltaSeq, d.seq);
        this.settings.set(SETTING.statusVersion, d.version);
        this.settings.set(SETTING.statusRows, (this.settings.getNumber(SETTING.statusRows) ?? 0) + added);
        this.settings.set(SETTING.statusUpdatedMs, dataMs);
      })
      .immediate();
  }
}
