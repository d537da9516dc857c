import type { EntryMessage } from "../contract/entry.js";
import type { SqliteDb } from "./database.js";
import type { OutboxRow } from "./outbox.js";
import { StoreError } from "./store-error.js";

export interface JournalRecord {
  readonly entry: EntryMessage;
  /** Why, in words, for the technician; kept locally, never published. */
  readonly detail: string | null;
  /** Where the uplink will publish the entry. */
  readonly topic: string;
  /** A pass this entry used up, kept until `expiresS` so it cannot be shown again. */
  readonly usedPass: { readonly jti: string; readonly expiresS: number } | null;
}

/** A message other than the entry to put in the outbox with it (the used pass told to the site). */
export interface QueuedMessage {
  readonly topic: string;
  readonly payload: string;
  readonly createdMs: number;
}

/**
 * The entry journal. `record` writes the entry, its outbox row and the used pass in one transaction: when it
 * returns, all three are on disk (the gate's connection runs with synchronous=FULL), and the relay may move.
 */
export class Journal {
  private readonly insertEntry;
  private readonly insertOutbox;
  private readonly insertPass;
  private readonly removeOutbox;
  private readonly recordTx;
  private readonly purgeStmt;
  private readonly oldestStmt;

  constructor(db: SqliteDb) {
    this.insertEntry = db.prepare(
      `INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, detail, kind, subject, latency_ms,
         status_version, stale) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertOutbox = db.prepare("INSERT INTO outbox (topic, payload, qos, created_ms) VALUES (?, ?, 1, ?)");
    this.insertPass = db.prepare("INSERT OR REPLACE INTO used_passes (jti, expires_s) VALUES (?, ?)");
    this.removeOutbox = db.prepare<[number]>("DELETE FROM outbox WHERE seq = ?");
    this.recordTx = db.transaction((r: JournalRecord, tsMs: number, also: readonly QueuedMessage[], delivered: readonly number[]): OutboxRow[] => {
      const e = r.entry;
      this.insertEntry.run(
        e.id, tsMs, e.site, e.device, e.door, e.decision, e.reason, r.detail, e.kind, e.subject, e.latencyMs,
        e.statusVersion, e.stale ? 1 : 0,
      );
      const payload = JSON.stringify(e);
      const rows: OutboxRow[] = [{ seq: Number(this.insertOutbox.run(r.topic, payload, tsMs).lastInsertRowid), topic: r.topic, payload, qos: 1 }];
      if (r.usedPass !== null) this.insertPass.run(r.usedPass.jti, r.usedPass.expiresS);
      for (const m of also) {
        rows.push({ seq: Number(this.insertOutbox.run(m.topic, m.payload, m.createdMs).lastInsertRowid), topic: m.topic, payload: m.payload, qos: 1 });
      }
      for (const seq of delivered) this.removeOutbox.run(seq);
      return rows;
    });
    // Small batches keep each write transaction short, so a purge never holds up a scan for long. An entry whose
    // message still waits in the outbox is kept whatever its time says: it is not delivered yet. Its outbox row
    // was written with created_ms = the entry's ts_ms, so only outbox rows older than the cutoff need reading.
    this.purgeStmt = db.prepare<[number, number]>(
      `DELETE FROM entries WHERE seq IN (SELECT seq FROM entries WHERE ts_ms < ?
         AND id NOT IN (SELECT json_extract(payload, '$.id') FROM outbox WHERE created_ms < ? AND json_valid(payload))
         LIMIT 2000)`,
    );
    this.oldestStmt = db.prepare<[], { oldest: number | null }>("SELECT min(ts_ms) AS oldest FROM entries");
  }

  /**
   * Throws StoreError `E_STORE_WRITE` (disk full, I/O error, read-only file): the entry is then not on record.
   * `also` goes into the outbox in the same transaction (one commit, one disk sync, for the entry and the messages
   * that follow from it), after the entry's own message. `delivered` are outbox rows the broker has acknowledged,
   * deleted in the same transaction (their delete needs no commit of its own). Returns the outbox rows written, in
   * order, as `Outbox.after` would give them.
   */
  record(r: JournalRecord, also: readonly QueuedMessage[] = [], delivered: readonly number[] = []): OutboxRow[] {
    const tsMs = Date.parse(r.entry.ts);
    try {
      return this.recordTx.immediate(r, tsMs, also, delivered);
    } catch (e) {
      throw new StoreError("E_STORE_WRITE", `journal write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Puts a message other than an entry (an alarm) in the outbox, durably, for the uplink to deliver. */
  queueMessage(topic: string, payload: string, createdMs: number): void {
    try {
      this.insertOutbox.run(topic, payload, createdMs);
    } catch (e) {
      throw new StoreError("E_STORE_WRITE", `outbox write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The time of the oldest entry kept, ms; null when there is none. */
  oldestTsMs(): number | null {
    return this.oldestStmt.get()?.oldest ?? null;
  }

  /** Deletes entries older than `cutoffMs` (wall time), except those still waiting in the outbox; returns how many. */
  purgeOlderThan(cutoffMs: number): number {
    let total = 0;
    for (;;) {
      const n = this.purgeStmt.run(cutoffMs, cutoffMs).changes;
      total += n;
      if (n === 0) return total;
    }
  }
}
