/**
 * Schema versions of the gate's SQLite file, applied in order inside one transaction each.
 * Append only: a released migration is never edited (devices in the field have run it).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: status table, entry journal, outbox, replay set, settings.
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

  CREATE TABLE status (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    doses INTEGER NOT NULL,
    last_dose TEXT,
    recovered_on TEXT,
    dob TEXT,
    zone TEXT,
    flags TEXT NOT NULL DEFAULT ''
  ) WITHOUT ROWID;

  -- The journal keeps what the gate decided; subject is what the contract allows (the ID or its keyed hash).
  CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    ts_ms INTEGER NOT NULL,
    site TEXT NOT NULL,
    device TEXT NOT NULL,
    door TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT,
    kind TEXT NOT NULL,
    subject TEXT,
    latency_ms REAL NOT NULL,
    status_version INTEGER NOT NULL,
    stale INTEGER NOT NULL
  );
  CREATE INDEX entries_ts ON entries (ts_ms);

  -- Messages waiting for a PUBACK, published verbatim so a retry is byte-identical.
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    qos INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
  );

  CREATE TABLE used_passes (jti TEXT PRIMARY KEY, expires_s INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX used_passes_expiry ON used_passes (expires_s);
  `,
  // 2: centre feeds (docs/contract.md §5.7): chunks of the snapshot being staged; commands seen (the command journal,
  // and the replay set: an id is kept until its expiry).
  `
  CREATE TABLE status_sync_chunks (idx INTEGER PRIMARY KEY);
  CREATE TABLE commands (
    id TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    expires_s INTEGER NOT NULL,
    ok INTEGER,
    error TEXT
  ) WITHOUT ROWID;
  CREATE INDEX commands_expiry ON commands (expires_s);
  `,
  // 3: no index on used_passes.expires_s. Every pass used at a site is written at each of its doors (site replay), and
  // the index was a second B-tree page per write, about 40 % of its cost. The table holds only passes that expired less
  // than an hour ago (the purge is hourly): thousands of rows at a busy site, which the purge reads whole in milliseconds.
  `
  DROP INDEX IF EXISTS used_passes_expiry;
  `,
];
