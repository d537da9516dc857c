import type { ReplaySet } from "../core/issuer-keys.js";
import type { SqliteDb } from "./database.js";

/** Pass `jti`s already used on this device, persisted so a restart does not reopen a replay window. */
export class UsedPasses implements ReplaySet {
  private readonly hasStmt;
  private readonly purgeStmt;

  constructor(db: SqliteDb) {
    this.hasStmt = db.prepare<[string], { one: number }>("SELECT 1 AS one FROM used_passes WHERE jti = ?");
    this.purgeStmt = db.prepare<[number]>("DELETE FROM used_passes WHERE expires_s < ?");
  }

  has(jti: string): boolean {
    return this.hasStmt.get(jti) !== undefined;
  }

  /** Forgets passes that expired (with skew) before `nowS`: they would be refused as expired anyway. */
  purgeExpired(nowS: number): number {
    return this.purgeStmt.run(nowS).changes;
  }
}
