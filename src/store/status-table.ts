import type { StatusRow } from "../core/status-row.js";
import type { SqliteDb } from "./database.js";
import { SETTING, Settings, settingsWrites } from "./settings.js";

interface RawRow {
  id: string;
  status: string;
  doses: number;
  last_dose: string | null;
  recovered_on: string | null;
  dob: string | null;
  zone: string | null;
  flags: string;
}

export interface StatusMeta {
  /** Increments with every accepted import or snapshot; 0 before the first. */
  readonly version: number;
  /** Wall time the current table was loaded, ms since the epoch; null before the first. */
  readonly updatedMs: number | null;
  readonly rows: number;
}

const COLUMNS = "id, status, doses, last_dose, recovered_on, dob, zone, flags";
const STAGE_DDL = `CREATE TABLE status_stage (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, doses INTEGER NOT NULL, last_dose TEXT,
  recovered_on TEXT, dob TEXT, zone TEXT, flags TEXT NOT NULL DEFAULT '') WITHOUT ROWID`;

function toParams(r: StatusRow): unknown[] {
  return [r.id, r.status, r.doses, r.lastDose, r.recoveredOn, r.dob, r.zone, r.flags.join(";")];
}

function fromRaw(r: RawRow): StatusRow {
  return {
    id: r.id,
    status: r.status as StatusRow["status"],
    doses: r.doses,
    lastDose: r.last_dose,
    recoveredOn: r.recovered_on,
    dob: r.dob,
    zone: r.zone as StatusRow["zone"],
    flags: r.flags === "" ? [] : r.flags.split(";"),
  };
}

/**
 * The locally cached status table. Lookups are one primary-key read. A full load is staged in a side table
 * and swapped in by one transaction, so a crash mid-load leaves the old table deciding, never a mix.
 */
export class StatusTable {
  private readonly lookupStmt;
  private readonly dataVersionStmt;
  private readonly settings: Settings;
  /** `meta()` as last read, with what tells whether it still holds (see `meta`). */
  private metaCache: { readonly meta: StatusMeta; readonly dataVersion: number; readonly writes: number } | null = null;
  private readonly beginStmt;
  private readonly commitStmt;
  /** Inside `consistent`'s own read transaction (no writes in it: a cache filled there is as good as outside). */
  private reading = false;

  constructor(private readonly db: SqliteDb) {
    this.lookupStmt = db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM status WHERE id = ?`);
    this.dataVersionStmt = db.prepare<[], number>("PRAGMA data_version").pluck();
    this.beginStmt = db.prepare("BEGIN DEFERRED");
    this.commitStmt = db.prepare("COMMIT");
    this.settings = new Settings(db);
  }

  lookup(id: string): StatusRow | undefined {
    const r = this.lookupStmt.get(id);
    return r === undefined ? undefined : fromRaw(r);
  }

  /**
   * The table's version, load time and size (from the settings). Asked on every scan, so it is cached: the cache is
   * used while `PRAGMA data_version` is unchanged (no other connection, such as `qrgate status import` in another
   * process, committed since) and no setting was written through this connection (`settingsWrites`); one cheap
   * pragma instead of three reads. Inside a transaction it is read afresh and not cached (it could roll back).
   */
  meta(): StatusMeta {
    const dataVersion = this.dataVersionStmt.get() as number;
    const writes = settingsWrites(this.db);
    const c = this.metaCache;
    if (c !== null && c.dataVersion === dataVersion && c.writes === writes) return c.meta;
    const meta: StatusMeta = {
      version: this.settings.getNumber(SETTING.statusVersion) ?? 0,
      updatedMs: this.settings.getNumber(SETTING.statusUpdatedMs) ?? null,
      rows: this.settings.getNumber(SETTING.statusRows) ?? 0,
    };
    this.metaCache = this.db.inTransaction && !this.reading ? null : { meta, dataVersion, writes };
    return meta;
  }

  /**
   * Runs `fn`, which only reads the store (`meta`, `lookup`, the used passes), in one read transaction: one lock
   * cycle (SQLite's POSIX locks on the file and its shared-memory index) for all its reads instead of one each, and
   * one snapshot. `fn` must not write. Inside a transaction already, it simply runs `fn`.
   */
  consistent<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    const writes = settingsWrites(this.db);
    this.beginStmt.run();
    this.reading = true;
    try {
      return fn();
    } finally {
      this.reading = false;
      this.commitStmt.run();
      // Written after all (a misuse): what was cached inside is not trusted.
      if (settingsWrites(this.db) !== writes) this.metaCache = null;
    }
  }

  /** Begins a full replacement: the returned stage takes rows in batches, then swaps or is discarded. */
  beginReplace(): StatusStage {
    this.db.exec("DROP TABLE IF EXISTS status_stage");
    this.db.exec(STAGE_DDL);
    return new StatusStage(this.db, "status_stage", (count, nowMs) => {
      this.db
        .transaction(() => {
          this.db.exec("DROP TABLE status");
          this.db.exec("ALTER TABLE status_stage RENAME TO status");
          this.bumpVersion(count, nowMs);
        })
        .immediate();
    });
  }

  /** Begins a merge: rows upsert into the live table, committed together when the stage is finished. */
  beginMerge(): StatusStage {
    this.db.exec("DROP TABLE IF EXISTS status_stage");
    this.db.exec(STAGE_DDL);
    return new StatusStage(this.db, "status_stage", (_count, nowMs) => {
      this.db
        .transaction(() => {
          this.db.exec(
            `INSERT INTO status (${COLUMNS}) SELECT ${COLUMNS} FROM status_stage WHERE true
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, doses = excluded.doses,
               last_dose = excluded.last_dose, recovered_on = excluded.recovered_on, dob = excluded.dob,
               zone = excluded.zone, flags = excluded.flags`,
          );
          this.db.exec("DROP TABLE status_stage");
          const total = (this.db.prepare("SELECT count(*) AS n FROM status").get() as { n: number }).n;
          this.bumpVersion(total, nowMs);
        })
        .immediate();
    });
  }

  private bumpVersion(rows: number, nowMs: number): void {
    this.settings.set(SETTING.statusVersion, (this.settings.getNumber(SETTING.statusVersion) ?? 0) + 1);
    this.settings.set(SETTING.statusUpdatedMs, nowMs);
    this.settings.set(SETTING.statusRows, rows);
  }
}

/** Rows of one batch whose ID was already staged: the same contents again, or different contents. */
export interface StageRepeats {
  /** Indexes (within the batch) of rows identical to the one already staged for their ID: collapsed into it. */
  readonly identical: number[];
  /** Indexes (within the batch) of rows that contradict the one already staged for their ID. */
  readonly conflicting: number[];
}

function sameRow(a: StatusRow, b: StatusRow): boolean {
  const pa = toParams(a);
  const pb = toParams(b);
  return pa.every((v, i) => v === pb[i]);
}

/** Rows being loaded; nothing is visible to lookups until `commit`. */
export class StatusStage {
  private readonly insert;
  private readonly stagedStmt;
  private count = 0;

  constructor(
    private readonly db: SqliteDb,
    private readonly table: string,
    private readonly onCommit: (count: number, nowMs: number) => void,
  ) {
    this.insert = db.prepare(`INSERT INTO ${table} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`);
    this.stagedStmt = db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM ${table} WHERE id = ?`);
  }

  /**
   * Adds a batch in one transaction. A row whose ID is already staged is not written; it is reported as
   * identical to the staged one or as contradicting it (the caller decides what a contradiction means).
   */
  addBatch(rows: readonly StatusRow[]): StageRepeats {
    const identical: number[] = [];
    const conflicting: number[] = [];
    this.db.transaction(() => {
      rows.forEach((r, i) => {
        if (this.insert.run(...toParams(r)).changes === 1) {
          this.count++;
          return;
        }
        const staged = this.stagedStmt.get(r.id);
        if (staged !== undefined && sameRow(fromRaw(staged), r)) identical.push(i);
        else conflicting.push(i);
      });
    })();
    return { identical, conflicting };
  }

  get staged(): number {
    return this.count;
  }

  commit(nowMs: number): void {
    this.onCommit(this.count, nowMs);
  }

  discard(): void {
    this.db.exec(`DROP TABLE IF EXISTS ${this.table}`);
  }
}
