/**
 * The SQLite store's batch commits on a thread of their own, with their own connection to the file. better-sqlite3
 * is synchronous: on the event loop, a batch of 1,000 entries and its fsync (`synchronous=FULL`) held the
 * collector for 20-60 ms each, during which it read nothing, acknowledged nothing, and could not gather the next
 * batch: the double-buffered collector had nothing to overlap. Here the loop hands the batch's rows over and goes
 * on; the worker commits batches one after another, in the order given, each in one transaction.
 *
 * Errors keep their `name`, `message` and `code` (`SQLITE_CONSTRAINT…` is a refused row to `isDataError`, anything
 * else a failing store). A worker that dies fails what it held (retried by the collector) and is made again.
 *
 * Like the purge worker, its code is a plain-JavaScript string run with `eval` (a worker cannot load the `.ts`
 * file the tests run); the SQL comes from the store, so the two never differ.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { IngestResult } from "./entry-store.js";

/** The rows of one batch, as the statements take them. */
export interface CommitRows {
  /** Positional parameters of the entry insert. */
  readonly entries: readonly (readonly unknown[])[];
  /** Named parameters of the state upsert. */
  readonly states: readonly Record<string, unknown>[];
  /** Named parameters of the event insert. */
  readonly events: readonly Record<string, unknown>[];
  /** Positional parameters of the rejected insert. */
  readonly rejected: readonly (readonly unknown[])[];
}

export interface CommitSql {
  readonly entry: string;
  readonly state: string;
  readonly event: string;
  readonly rejected: string;
}

const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const { path, sql, pragmas } = workerData;
const db = new Database(path, { fileMustExist: true });
for (const p of pragmas) db.pragma(p);
let s = null;
const run = db.transaction((b) => {
  s ??= { entry: db.prepare(sql.entry), state: db.prepare(sql.state), event: db.prepare(sql.event), rejected: db.prepare(sql.rejected) };
  let newEntries = 0, newEvents = 0, statesApplied = 0;
  for (const e of b.entries) newEntries += s.entry.run(...e).changes;
  for (const st of b.states) statesApplied += s.state.run(st).changes;
  for (const ev of b.events) newEvents += s.event.run(ev).changes;
  // A Buffer crosses to the worker as a Uint8Array; the driver binds only Buffers as blobs.
  for (const r of b.rejected) s.rejected.run(r[0], r[1], r[2] == null ? r[2] : Buffer.from(r[2].buffer, r[2].byteOffset, r[2].byteLength), r[3]);
  return { newEntries, newEvents, statesApplied };
});
parentPort.on("message", (m) => {
  if (m.close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ id: m.id, result: run(m.rows) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: { name: e && e.name, message: String(e && e.message), code: e && e.code } });
  }
});
`;

interface Waiting {
  resolve(r: IngestResult): void;
  reject(e: Error): void;
}

/** An error as the worker reported it, with its `code`. */
export class SqliteWorkerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    name: string | undefined,
  ) {
    super(message);
    this.name = name ?? "Error";
  }
}

export class SqliteCommitWorker {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;

  constructor(
    private readonly path: string,
    private readonly sql: CommitSql,
    private readonly pragmas: readonly string[],
  ) {}

  /** Commits one batch's rows in one transaction on the worker; resolves once it is durable. */
  commit(rows: CommitRows): Promise<IngestResult> {
    const worker = this.start();
    const id = ++this.nextId;
    return new Promise<IngestResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ id, rows });
    });
  }

  /** Closes the worker's connection once what it was given is committed. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage({ close: true });
    await exited;
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    // The same driver the store uses, wherever qrgate is installed (an eval'd worker resolves from the cwd).
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(SOURCE, { eval: true, workerData: { driver, path: this.path, sql: this.sql, pragmas: this.pragmas } });
    worker.unref();
    worker.on("message", (m: { id: number; result?: IngestResult; error?: { name?: string; message: string; code?: string } }) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) worker.unref();
      if (m.error !== undefined) w.reject(new SqliteWorkerError(m.error.message, m.error.code, m.error.name));
      else w.resolve(m.result!);
    });
    const fail = (why: string): void => {
      if (this.worker === worker) this.worker = null;
      for (const w of this.waiting.values()) w.reject(new Error(`SQLite commit worker ${why}`));
      this.waiting.clear();
    };
    worker.on("error", (e) => fail(`failed: ${e.message}`));
    worker.on("exit", (code) => fail(`exited (${code})`));
    this.worker = worker;
    return worker;
  }
}
