/**
 * The pace of a purge in chunks (the SQLite store's retention): how many rows the next chunk deletes, from how
 * long the last one took. Each chunk runs synchronously on the event loop and holds SQLite's write lock, so it must
 * stay well under `PURGE_BUDGET_MS`; a fixed row count cannot promise that (a cold cache, an fsync, wide rows), a
 * measured one can. Pure: no clock of its own.
 */

/** Never hold the event loop (and the write lock) longer than this in one chunk. */
export const PURGE_BUDGET_MS = 50;
/** What a chunk aims at: far enough under the budget that one slow chunk (an fsync, a cold page) stays within it. */
export const PURGE_TARGET_MS = 15;
export const PURGE_MIN_ROWS = 50;
/** Also the most rows any chunk deletes: a purge of R rows yields to the event loop at least R / this - 1 times. */
export const PURGE_MAX_ROWS = 20_000;
/** Where a store starts before it has measured anything. */
export const PURGE_FIRST_ROWS = 500;

/** The next chunk's row count after `rows` took `ms`: scaled towards the target, grown at most twofold. */
export function nextPurgeChunk(rows: number, ms: number): number {
  const scaled = ms > 0 ? Math.floor((rows * PURGE_TARGET_MS) / ms) : rows * 2;
  return Math.max(PURGE_MIN_ROWS, Math.min(PURGE_MAX_ROWS, rows * 2, scaled));
}
