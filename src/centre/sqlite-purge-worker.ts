/**
 * The SQLite store's retention purge on a thread of its own, with its own connection to the file: the collector's
 * event loop never runs a purge statement, and never runs the WAL checkpoint a purge's commits set off (the
 * checkpoint's fsync, 100-250 ms on a busy disk, was what still held the loop when the chunks ran on it; the worker
 * runs it after each chunk, outside the transaction, on no lock that ingest waits for). The main
 * connection waits for the purge only when it commits while a chunk holds the write lock: at most one chunk, whose
 * size follows the time the last one took (purge-pace.ts), and the worker pauses as long as each chunk took, so
 * ingest gets the lock at least half of the time.
 *
 * The worker's code is a plain-JavaScript string run with `eval`: a file next to this one would be a `.ts` under
 * the test runner and a `.js` in `dist`, and a worker cannot load the former. It is small and mirrors
 * `nextPurgeChunk`, whose constants it is given.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { PURGE_BUDGET_MS, PURGE_MAX_ROWS, PURGE_MIN_ROWS, PURGE_TARGET_MS } from "./purge-pace.js";

/** What one purge did, for logs and the benchmark. */
export interface PurgeStats {
  /** Statements run (each its own transaction). */
  readonly chunks: number;
  /** The longest one, in milliseconds: the longest an ingest commit could have waited for the write lock. */
  readonly maxChunkMs: number;
  /** Chunks that took longer than PURGE_BUDGET_MS. */
  readonly overBudget: number;
  /** The longest WAL checkpoint the worker ran after a chunk (no lock ingest needs; 0 on the event-loop path). */
  readonly maxCheckpointMs: number;
}

export interface PurgeResult {
  readonly counts: { entries: number; events: number; rejected: number };
  readonly stats: PurgeStats;
  /** The rows per chunk it ended with, to start the next purge from. */
  readonly lastChunk: number;
}

/** The tables a purge empties of old rows, and the time column of each. */
export const PURGE_TABLES: readonly (readonly [table: "entries" | "events" | "rejected", column: string])[] = [
  ["entries", "ts_ms"],
  ["events", "ts_ms"],
  ["rejected", "received_ms"],
];

const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const { path, beforeMs, tables, pace } = workerData;
const pause = new Int32Array(new SharedArrayBuffer(4));
const next = (rows, ms) => {
  const scaled = ms > 0 ? Math.floor((rows * pace.target) / ms) : rows * 2;
  return Math.max(pace.min, Math.min(pace.max, rows * 2, scaled));
};
const db = new Database(path, { fileMustExist: true });
try {
  db.pragma("busy_timeout = 10000");
  // A purge lost to a power cut is simply done again: no fsync per chunk.
  db.pragma("synchronous = NORMAL");
  // The worker checkpoints after each chunk itself, outside the chunk's transaction: the WAL stays short, so the
  // main connection's own automatic checkpoint (on its event loop) finds little to do.
  db.pragma("wal_autocheckpoint = 0");
  let rows = workerData.firstChunk;
  let chunks = 0, maxChunkMs = 0, overBudget = 0, maxCheckpointMs = 0;
  const counts = {};
  for (const [table, column] of tables) {
    const stmt = db.prepare("DELETE FROM " + table + " WHERE rowid IN (SELECT rowid FROM " + table + " WHERE " + column + " < ? LIMIT ?)");
    let total = 0;
    for (;;) {
      const t = performance.now();
      const n = stmt.run(beforeMs, rows).changes;
      const ms = performance.now() - t;
      chunks++;
      maxChunkMs = Math.max(maxChunkMs, ms);
      if (ms > pace.budget) overBudget++;
      total += n;
      const done = n < rows;
      rows = next(rows, ms);
      const c = performance.now();
      db.pragma("wal_checkpoint(PASSIVE)");
      maxCheckpointMs = Math.max(maxCheckpointMs, performance.now() - c);
      if (done) break;
      Atomics.wait(pause, 0, 0, Math.ceil(ms));
    }
    counts[table] = total;
  }
  parentPort.postMessage({ counts, stats: { chunks, maxChunkMs, overBudget, maxCheckpointMs }, lastChunk: rows });
} finally {
  db.close();
}
`;

/** Purges rows older than `beforeMs` from the SQLite file at `path` on a worker thread. */
export function purgeOnWorker(path: string, beforeMs: number, firstChunk: number): Promise<PurgeResult> {
  // The same driver the store uses, wherever qrgate is installed (an eval'd worker resolves from the working directory).
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const pace = { target: PURGE_TARGET_MS, min: PURGE_MIN_ROWS, max: PURGE_MAX_ROWS, budget: PURGE_BUDGET_MS };
  return new Promise((resolve, reject) => {
    const worker = new Worker(SOURCE, { eval: true, workerData: { driver, path, beforeMs, tables: PURGE_TABLES, pace, firstChunk } });
    let result: PurgeResult | undefined;
    worker.once("message", (m: PurgeResult) => {
      result = m;
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`purge worker exited with code ${code} before it finished`));
    });
  });
}
