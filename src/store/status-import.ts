import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { StatusRow } from "../core/status-row.js";
import { isStatusHeader, parseStatusLine } from "../core/status-csv.js";
import type { StatusTable } from "./status-table.js";

export interface ImportOptions {
  /** Any bad row refuses the whole file. */
  readonly strict: boolean;
  /** Upsert into the current table instead of replacing it. */
  readonly merge: boolean;
  /** Wall time recorded as the table's load time. */
  readonly nowMs: number;
  /** Called now and then with lines read and the file's bytes read / total. */
  readonly progress?: (p: { lines: number; bytesRead: number; bytesTotal: number }) => void;
  /** How many bad rows to keep for the report (all are counted). */
  readonly maxReportedErrors?: number;
}

export interface ImportReport {
  readonly imported: boolean;
  /** Good rows staged (and, when `imported`, now live). */
  readonly rows: number;
  /** Bad rows, counted. */
  readonly rejected: number;
  /** The first bad rows, by line number (1-based, counting the header). */
  readonly errors: ReadonlyArray<{ readonly line: number; readonly message: string }>;
  /** The table's version after the import (unchanged when nothing was imported). */
  readonly version: number;
  readonly totalRows: number;
}

const BATCH = 5000;
const PROGRESS_EVERY = 100_000;

/**
 * Reads a status CSV (DESIGN §4) and loads it: every row validated, bad rows reported by line number, good rows
 * swapped in by one transaction (or merged), or nothing at all when `strict` and any row is bad.
 */
export async function importStatusCsv(table: StatusTable, path: string, opts: ImportOptions): Promise<ImportReport> {
  const total = (await stat(path)).size;
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const stage = opts.merge ? table.beginMerge() : table.beginReplace();
  const errors: Array<{ line: number; message: string }> = [];
  const maxErrors = opts.maxReportedErrors ?? 100;
  let rejected = 0;
  let lineNo = 0;
  let batch: StatusRow[] = [];
  let batchLines: number[] = [];
  const reject = (line: number, message: string): void => {
    rejected++;
    if (errors.length < maxErrors) errors.push({ line, message });
  };
  const flush = (): void => {
    const dups = stage.addBatch(batch);
    for (const i of dups) reject(batchLines[i] as number, `id repeats an earlier row`);
    batch = [];
    batchLines = [];
  };
  try {
    for await (const line of lines) {
      lineNo++;
      if (opts.progress !== undefined && lineNo % PROGRESS_EVERY === 0) {
        opts.progress({ lines: lineNo, bytesRead: input.bytesRead, bytesTotal: total });
      }
      if (line.trim() === "") continue;
      if (lineNo === 1 && isStatusHeader(line)) continue;
      const r = parseStatusLine(line);
      if (!r.ok) {
        reject(lineNo, r.error);
        continue;
      }
      batch.push(r.value);
      batchLines.push(lineNo);
      if (batch.length >= BATCH) flush();
    }
    flush();
  } catch (e) {
    stage.discard();
    throw e;
  }
  const before = table.meta();
  if ((opts.strict && rejected > 0) || stage.staged === 0) {
    stage.discard();
    return { imported: false, rows: stage.staged, rejected, errors, version: before.version, totalRows: before.rows };
  }
  stage.commit(opts.nowMs);
  const after = table.meta();
  return { imported: true, rows: stage.staged, rejected, errors, version: after.version, totalRows: after.rows };
}
