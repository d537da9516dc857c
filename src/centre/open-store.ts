/**
 * Picks the store from `--db`: a `postgres://` (or `postgresql://`) URL opens PostgreSQL, anything else is a
 * SQLite file path. Each driver is imported only when chosen.
 */
import type { EntryStore } from "./entry-store.js";

export const DEFAULT_DB = "./qrgate-centre.db";

export function isPostgres(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

export interface OpenOptions {
  /** For queries: SQLite opens an existing file read-only instead of creating an empty one. */
  readonly readonly?: boolean;
  /** PostgreSQL: the name our sessions carry in `pg_stat_activity`. */
  readonly applicationName?: string;
  /** PostgreSQL: server-side limit of one statement (default 30 s). */
  readonly statementTimeoutMs?: number;
}

export async function openEntryStore(db: string, opts: OpenOptions = {}): Promise<EntryStore> {
  if (isPostgres(db)) {
    const { PostgresEntryStore } = await import("./postgres-entry-store.js");
    return new PostgresEntryStore(db, {
      ...(opts.applicationName !== undefined ? { applicationName: opts.applicationName } : {}),
      ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}),
    });
  }
  const { SqliteEntryStore } = await import("./sqlite-entry-store.js");
  return new SqliteEntryStore(db, { readonly: opts.readonly === true });
}
