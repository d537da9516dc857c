import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./migrations.js";
import { StoreError } from "./store-error.js";

export type SqliteDb = Database.Database;

export interface OpenOptions {
  /**
   * FULL for the gate (each entry is on disk before the relay moves); NORMAL for bulk tools such as the
   * status import, where a crash only loses the unfinished import.
   */
  readonly synchronous: "FULL" | "NORMAL";
  readonly readonly?: boolean;
}

/** Opens (creating if needed) the gate's one SQLite file in WAL mode and brings its schema up to date. */
export function openDatabase(path: string, opts: OpenOptions): SqliteDb {
  let db: SqliteDb;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { readonly: opts.readonly ?? false });
  } catch (e) {
    throw new StoreError("E_STORE_OPEN", `cannot open store ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    // Another process (status import, doctor) may hold the write lock for a moment.
    db.pragma("busy_timeout = 5000");
    if (!opts.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${opts.synchronous}`);
      db.pragma("foreign_keys = ON");
      migrate(db);
    }
  } catch (e) {
    db.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError("E_STORE_OPEN", `cannot prepare store ${path}: ${(e as Error).message}`, { cause: e });
  }
  return db;
}

export function schemaVersion(db: SqliteDb): number {
  return db.pragma("user_version", { simple: true }) as number;
}

function migrate(db: SqliteDb): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new StoreError(
      "E_STORE_VERSION",
      `store schema version ${current} is newer than this qrgate understands (${MIGRATIONS.length}); upgrade qrgate`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    const sql = MIGRATIONS[v] as string;
    try {
      db.transaction(() => {
        db.exec(sql);
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    } catch (e) {
      throw new StoreError("E_STORE_MIGRATE", `migration to schema ${v + 1} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}
