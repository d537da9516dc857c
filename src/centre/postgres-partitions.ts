/**
 * The day partitions of `entries` in PostgreSQL (migration 4): which days to make ahead, telling the error of a
 * row whose day has no partition, and retention by detaching and dropping whole days.
 *
 * Locks, because a partition operation must never stop ingest: making a day attaches a table of its own
 * (`qrgate_entry_partitions`, SHARE UPDATE EXCLUSIVE on `entries`, which inserts and queries do not wait for);
 * dropping a day detaches it CONCURRENTLY first (the same lock; it waits for queries that may still read the day
 * but blocks none), then drops the detached table, which nothing reads any more.
 */
import type pg from "pg";
import { PARTITION_DAY_MS } from "./migrations.js";

/** Days made ahead of today (UTC), so that ingest normally never has to make one. */
export const DAYS_AHEAD = 7;
/** How long a partition operation may wait for its lock before giving up until the next run. */
export const PARTITION_LOCK_TIMEOUT_MS = 5_000;

/** Days since 1970-01-01 (UTC) of an epoch-ms time. */
export function utcDay(ms: number): number {
  return Math.floor(ms / PARTITION_DAY_MS);
}

/**
 * Whether `e` says a row's day has no partition (SQLSTATE 23514 raised by `ExecFindPartition`). It is of class 23
 * but not the row's fault: the store makes the day and commits again.
 */
export function isMissingPartition(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const { code, routine, message } = e as { code?: unknown; routine?: unknown; message?: unknown };
  if (code !== "23514") return false;
  return routine === "ExecFindPartition" || (typeof message === "string" && message.startsWith("no partition of relation"));
}

/** One partition of `entries` and its range `[fromMs, toMs)`. */
export interface DayPartition {
  readonly name: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** A DETACH … CONCURRENTLY that was interrupted: it must be finalized before the table can go. */
  readonly detachPending: boolean;
}

const BOUND = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/;

/** Anything that runs a query: a pool, a client, the store. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The partitions of `entries`, oldest first. */
export async function listPartitions(db: Queryable): Promise<DayPartition[]> {
  const r = await db.query<{ name: string; bound: string; pending: boolean }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, i.inhdetachpending AS pending
       FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'entries'::regclass`,
  );
  const parts: DayPartition[] = [];
  for (const row of r.rows) {
    const m = BOUND.exec(row.bound);
    // Only range bounds exist (migration 4 makes no DEFAULT partition); anything else is not ours to drop.
    if (m === null) continue;
    parts.push({ name: row.name, fromMs: Number(m[1]), toMs: Number(m[2]), detachPending: row.pending });
  }
  return parts.sort((a, b) => a.fromMs - b.fromMs);
}

/** A partition name as an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Makes sure every UTC day in `days` has its partition; returns how many were made. */
export async function ensureDays(client: pg.PoolClient, days: readonly number[]): Promise<number> {
  if (days.length === 0) return 0;
  try {
    await client.query("BEGIN");
    await client.query(`SET LOCAL lock_timeout = ${PARTITION_LOCK_TIMEOUT_MS}`);
    const r = await client.query<{ made: number }>(
      "SELECT coalesce(sum(qrgate_entry_partitions(d, d)), 0)::int AS made FROM unnest($1::int[]) AS d",
      [[...new Set(days)].sort((a, b) => a - b)],
    );
    await client.query("COMMIT");
    return r.rows[0]?.made ?? 0;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

/** Today (UTC) and the days after it up to `DAYS_AHEAD`, and yesterday (a collector started just after midnight). */
export function daysAround(nowMs: number): number[] {
  const today = utcDay(nowMs);
  return Array.from({ length: DAYS_AHEAD + 2 }, (_, i) => today - 1 + i);
}

/**
 * Retention of entries: detaches and drops every partition that lies wholly before `beforeMs`; returns how many
 * rows went. The day holding `beforeMs` stays whole until it has passed, so entries are kept up to one day
 * longer than asked, and no row is ever DELETEd (a DELETE of a day writes every row and index entry to the WAL;
 * a DROP writes a few catalogue rows). `client` must not be in a transaction: DETACH CONCURRENTLY cannot be.
 */
export async function dropDaysBefore(client: pg.PoolClient, beforeMs: number): Promise<number> {
  let rows = 0;
  for (const p of await listPartitions(client)) {
    if (p.toMs > beforeMs) break;
    const name = quoteIdent(p.name);
    // Counted before it goes, for the log; nothing writes to a day past retention but a rare late entry.
    rows += (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`)).rows[0]?.n ?? 0;
    await client.query(`SET lock_timeout = ${PARTITION_LOCK_TIMEOUT_MS}`);
    try {
      await client.query(`ALTER TABLE entries DETACH PARTITION ${name} ${p.detachPending ? "FINALIZE" : "CONCURRENTLY"}`);
    } finally {
      await client.query("RESET lock_timeout");
    }
    await client.query(`DROP TABLE ${name}`);
  }
  return rows;
}
