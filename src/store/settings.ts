import type { SqliteDb } from "./database.js";

/** Writes made through `Settings` on each connection, counted: a cache of settings on that connection is stale once it moves. */
const localWrites = new WeakMap<SqliteDb, { n: number }>();

/**
 * How many times settings were written through this connection (any `Settings` on it). Together with `PRAGMA
 * data_version` (which moves when another connection commits, never for this one's own commits) it tells a cache
 * of settings whether it may still be used.
 */
export function settingsWrites(db: SqliteDb): number {
  return localWrites.get(db)?.n ?? 0;
}

/** Small named values that must survive restarts (status version, last trusted time, boot counter). */
export class Settings {
  private readonly getStmt;
  private readonly setStmt;
  private readonly writes: { n: number };

  constructor(db: SqliteDb) {
    let writes = localWrites.get(db);
    if (writes === undefined) {
      writes = { n: 0 };
      localWrites.set(db, writes);
    }
    this.writes = writes;
    this.getStmt = db.prepare<[string], { value: string }>("SELECT value FROM settings WHERE key = ?");
    this.setStmt = db.prepare<[string, string]>(
      "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
  }

  get(key: string): string | undefined {
    return this.getStmt.get(key)?.value;
  }

  getNumber(key: string): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }

  set(key: string, value: string | number): void {
    // Counted before and after: a cache filled in between (within this write's transaction) is not kept.
    this.writes.n++;
    this.setStmt.run(key, String(value));
    this.writes.n++;
  }
}

/** Setting keys, in one place so two modules never disagree on a spelling. */
export const SETTING = {
  statusVersion: "status.version",
  statusUpdatedMs: "status.updated_ms",
  statusRows: "status.rows",
  trustedWallMs: "clock.trusted_wall_ms",
  logTagSecret: "log.tag_secret",
} as const;
