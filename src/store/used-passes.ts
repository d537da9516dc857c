import type { ReplaySet } from "../core/issuer-keys.js";
import { jtiHash } from "../contract/used-passes.js";
import type { SqliteDb } from "./database.js";

/**
 * Pass `jti`s already used, persisted so a restart does not reopen a replay window. A pass used here is kept by
 * its `jti`; one used at another gate of the site arrives as the SHA-256 of its `jti` and is kept as
 * `sha256:<hex>`, a key no real `jti` collides with in practice, so one lookup answers for both.
 */
export class UsedPasses implements ReplaySet {
  private readonly hasStmt;
  private readonly purgeStmt;
  private readonly oldestStmt;
  private readonly addRemoteTx;
  private readonly insertRemote;

  constructor(db: SqliteDb) {
    this.hasStmt = db.prepare<[string, string], { one: number }>("SELECT 1 AS one FROM used_passes WHERE jti IN (?, ?)");
    this.purgeStmt = db.prepare<[number]>("DELETE FROM used_passes WHERE expires_s < ?");
    this.oldestStmt = db.prepare<[], { oldest: number | null }>("SELECT min(expires_s) AS oldest FROM used_passes");
    const insert = db.prepare<[string, number]>(
      `INSERT INTO used_passes (jti, expires_s) VALUES (?, ?)
       ON CONFLICT (jti) DO UPDATE SET expires_s = max(expires_s, excluded.expires_s)`,
    );
    this.insertRemote = insert;
    this.addRemoteTx = db.transaction((items: ReadonlyArray<{ h: string; exp: number }>) => {
      for (const p of items) insert.run(`sha256:${p.h}`, p.exp);
    });
  }

  /** The earliest expiry kept, Unix seconds; null when the set is empty. */
  oldestExpiryS(): number | null {
    return this.oldestStmt.get()?.oldest ?? null;
  }

  has(jti: string): boolean {
    return this.hasStmt.get(jti, `sha256:${jtiHash(jti)}`) !== undefined;
  }

  /** Records passes used at other gates (by the hash of their `jti`), in one transaction. */
  addRemote(items: ReadonlyArray<{ h: string; exp: number }>): void {
    const only = items.length === 1 ? items[0] : undefined;
    // One row (the usual message: one pass) is one statement, atomic on its own: no BEGIN and COMMIT around it.
    if (only !== undefined) this.insertRemote.run(`sha256:${only.h}`, only.exp);
    else this.addRemoteTx.immediate(items);
  }

  /** Forgets passes that expired (with skew) before `nowS`: they would be refused as expired anyway. */
  purgeExpired(nowS: number): number {
    return this.purgeStmt.run(nowS).changes;
  }
}
