import type { SqliteDb } from "./database.js";

export interface OutboxRow {
  readonly seq: number;
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1;
}

/** Messages journaled but not yet acknowledged by the broker, in the order they were written. */
export class Outbox {
  private readonly afterStmt;
  private readonly removeStmt;
  private readonly depthStmt;
  private readonly removeManyTx;

  constructor(db: SqliteDb) {
    this.afterStmt = db.prepare<[number, number], OutboxRow>(
      "SELECT seq, topic, payload, qos FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
    );
    this.removeStmt = db.prepare<[number]>("DELETE FROM outbox WHERE seq = ?");
    this.depthStmt = db.prepare<[], { n: number; oldest: number | null }>(
      "SELECT count(*) AS n, min(created_ms) AS oldest FROM outbox",
    );
    this.removeManyTx = db.transaction((seqs: readonly number[]) => {
      for (const s of seqs) this.removeStmt.run(s);
    });
  }

  /** Up to `limit` rows with a sequence number above `seq`, oldest first. */
  after(seq: number, limit: number): OutboxRow[] {
    return this.afterStmt.all(seq, limit);
  }

  /** Called with the rows whose PUBACK arrived, only. One transaction: one disk sync for the lot. */
  removeMany(seqs: readonly number[]): void {
    const only = seqs.length === 1 ? seqs[0] : undefined;
    // One row (a door at one scan every few seconds acknowledges them one by one) is one statement, atomic on its own.
    if (only !== undefined) this.removeStmt.run(only);
    else if (seqs.length > 1) this.removeManyTx(seqs);
  }

  /** Rows waiting, and the wall time the oldest was written. */
  depth(): { rows: number; oldestMs: number | null } {
    const r = this.depthStmt.get();
    return { rows: r?.n ?? 0, oldestMs: r?.oldest ?? null };
  }
}
