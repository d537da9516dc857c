import type { SqliteDb } from "./database.js";

/** Small named values that must survive restarts (status version, last trusted time, boot counter). */
export class Settings {
  private readonly getStmt;
  private readonly setStmt;

  constructor(db: SqliteDb) {
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
    this.setStmt.run(key, String(value));
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
