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
  /** A row without `dob` is a bad row (a card for that ID could not be checked against its date of birth). */
  readonly requireDob?: boolean;
  /** Wall time recorded as the table's load time. */
  readonly nowMs: number;
  /** Called now and then with lines read and the file's bytes read / total. */
  readonly progress?: (p: { lines: number; bytesRead: number; bytesTotal: number }) => void;
  /** How many bad rows to keep for the report (all are counted). */
  readonly maxReportedErrors?: number;
}

/** The lines of one ID that the file gives with different contents. */
export interface ImportConflict {
  /** Every line (1-based) of the file holding this ID, in order. */
  readonly lines: readonly number[];
}

export interface ImportReport {
  readonly imported: boolean;
  /** Good rows staged (and, when `imported`, now live). */
  readonly rows: number;
  /** Bad rows, counted. */
  readonly rejected: number;
  /** The first bad rows, by line number (1-based, counting the header). */
  readonly errors: ReadonlyArray<{ readonly line: number; readonly message: string }>;
  /**
   * IDs the file gives twice or more with different contents. Any at all refuses the whole import, strict or
   * not, replace or merge: a snapshot that contradicts itself is corrupt, and no row of it can be believed.
   */
  readonly conflicts: readonly ImportConflict[];
  /** How many IDs conflict (`conflicts` may hold fewer when there are very many). */
  readonly conflictingIds: number;
  /** Rows that repeat an earlier row exactly: kept once, counted for a warning. */
  readonly repeats: number;
  /** Good rows with no date of birth (so a card for that ID is believed without a date check). */
  readonly missingDob: number;
  /** The table's version after the import (unchanged when nothing was imported). */
  readonly version: number;
  readonly totalRows: number;
}

const BATCH = 5000;
const PROGRESS_EVERY = 100_000;
/** IDs whose lines are listed when a file contradicts itself; past this they are only counted. */
const MAX_CONFLICT_IDS = 10_000;

/** Calls `each` with every non-empty data line of the CSV and its 1-based line number. */
async function forEachLine(
  path: string,
  each: (line: string, lineNo: number) => void,
  onProgress?: (lines: number, bytesRead: number) => void,
): Promise<void> {
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (onProgress !== undefined && lineNo % PROGRESS_EVERY === 0) onProgress(lineNo, input.bytesRead);
    if (line.trim() === "") continue;
    if (lineNo === 1 && isStatusHeader(line)) continue;
    each(line, lineNo);
  }
}

/**
 * Reads a status CSV (docs/contract.md §4) and loads it: every row validated, bad rows reported by line number, good rows
 * swapped in by one transaction (or merged), or nothing at all when `strict` and any row is bad, or when the file
 * gives one ID different contents on two lines (then every line of each such ID is reported).
 */
export async function importStatusCsv(table: StatusTable, path: string, opts: ImportOptions): Promise<ImportReport> {
  const total = (await stat(path)).size;
  const stage = opts.merge ? table.beginMerge() : table.beginReplace();
  const errors: Array<{ line: number; message: string }> = [];
  const maxErrors = opts.maxReportedErrors ?? 100;
  const conflictIds = new Set<string>();
  let conflictingIds = 0;
  let rejected = 0;
  let repeats = 0;
  let missingDob = 0;
  let batch: StatusRow[] = [];
  const reject = (line: number, message: string): void => {
    rejected++;
    if (errors.length < maxErrors) errors.push({ line, message });
  };
  const flush = (): void => {
    const { identical, conflicting } = stage.addBatch(batch);
    repeats += identical.length;
    for (const i of identical) if (batch[i]?.dob === null) missingDob--;
    for (const i of conflicting) {
      const row = batch[i] as StatusRow;
      if (row.dob === null) missingDob--;
      const id = row.id;
      if (conflictIds.has(id)) continue;
      conflictingIds++;
      // The lines are found again by a second read; only a bounded number of IDs is remembered for it.
      if (conflictIds.size < MAX_CONFLICT_IDS) conflictIds.add(id);
    }
    batch = [];
  };
  try {
    await forEachLine(
      path,
      (line, lineNo) => {
        const r = parseStatusLine(line);
        if (!r.ok) {
          reject(lineNo, r.error);
          return;
        }
        if (r.value.dob === null) {
          if (opts.requireDob === true) {
            reject(lineNo, "dob: required (--require-dob), got nothing");
            return;
          }
          missingDob++;
        }
        batch.push(r.value);
        if (batch.length >= BATCH) flush();
      },
      opts.progress === undefined ? undefined : (lines, bytesRead) => opts.progress?.({ lines, bytesRead, bytesTotal: total }),
    );
    flush();
  } catch (e) {
    stage.discard();
    throw e;
  }
  const before = table.meta();
  const refused = {
    imported: false,
    rows: stage.staged,
    rejected,
    errors,
    conflicts: [] as ImportConflict[],
    conflictingIds,
    repeats,
    missingDob,
    version: before.version,
    totalRows: before.rows,
  };
  if (conflictingIds > 0) {
    stage.discard();
    const byId = new Map<string, number[]>();
    for (const id of conflictIds) byId.set(id, []);
    await forEachLine(path, (line, lineNo) => {
      const r = parseStatusLine(line);
      if (r.ok) byId.get(r.value.id)?.push(lineNo);
    });
    return { ...refused, conflicts: [...byId.values()].map((lines) => ({ lines })) };
  }
  if ((opts.strict && rejected > 0) || stage.staged === 0) {
    stage.discard();
    return refused;
  }
  stage.commit(opts.nowMs);
  const after = table.meta();
  return { ...refused, imported: true, version: after.version, totalRows: after.rows };
}
