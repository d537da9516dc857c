/**
 * Schema migrations of the centre's store, one list for both SQLite and PostgreSQL: the same versions, the
 * same tables and columns, written in each dialect. Since version 4 PostgreSQL keeps `entries` partitioned by
 * UTC day (`uuid` ids, fewer indexes); SQLite keeps its single table (version 4 changes nothing there). Applied versions are recorded in
 * `schema_migrations (version, name, applied_ms)`. Append only: never edit a migration that has shipped.
 *
 * Times are UTC epoch milliseconds in 64-bit integer columns (`*_ms`) in both dialects, so the two stores
 * compare and answer identically.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: readonly string[];
  readonly postgres: readonly string[];
}

const INDEXES = [
  // A door's passages in time order: door and site listings, and the contact query's join.
  "CREATE INDEX IF NOT EXISTS entries_door_ts ON entries (site, device, door, ts_ms)",
  // One person's passages in time order: the subject query and the first step of the contact query.
  "CREATE INDEX IF NOT EXISTS entries_subject_ts ON entries (subject, ts_ms)",
  // A site's passages in time order, across its devices.
  "CREATE INDEX IF NOT EXISTS entries_site_ts ON entries (site, ts_ms)",
  // Retention: purge by age without reading the whole table.
  "CREATE INDEX IF NOT EXISTS entries_ts ON entries (ts_ms)",
];

/**
 * One row per collector session (`name`, its MQTT client id): the collector holding it (`holder`: the collector
 * itself, or the one that took its session over), that holder's process (`instance`), and until when the lease
 * holds by the store's clock. `grp` is the shared subscription group (`group` is a reserved word).
 */
function leasesTable(int64: string): string {
  return `CREATE TABLE IF NOT EXISTS collector_leases (
        name TEXT PRIMARY KEY,
        grp TEXT NOT NULL,
        holder TEXT NOT NULL,
        instance TEXT NOT NULL,
        renewed_ms ${int64} NOT NULL,
        expires_ms ${int64} NOT NULL
      )`;
}
/** One UTC day in milliseconds: the span of one partition of `entries` in PostgreSQL. */
export const PARTITION_DAY_MS = 86_400_000;

/** The columns of the partitioned `entries` (PostgreSQL, version 4 on). */
const PG_ENTRY_COLUMNS = `
        id UUID NOT NULL,
        ts_ms BIGINT NOT NULL,
        site TEXT NOT NULL,
        device TEXT NOT NULL,
        door TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
        reason TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT,
        latency_ms DOUBLE PRECISION NOT NULL,
        status_version BIGINT NOT NULL,
        stale BOOLEAN NOT NULL,
        received_ms BIGINT NOT NULL`;

/**
 * `qrgate_entry_partitions(first_day, last_day)`: makes sure each UTC day (days since 1970-01-01) in the range
 * has its partition of `entries`, named `entries_YYYYMMDD`; returns how many it made. A partition is made as a
 * table of its own and then attached: ATTACH takes only SHARE UPDATE EXCLUSIVE on `entries`, so it neither waits
 * for a running trace nor stops ingest (`CREATE TABLE … PARTITION OF` would take ACCESS EXCLUSIVE, queueing every
 * insert behind the longest running query). The indexes come with the attach. The advisory lock serialises
 * collectors that make the same day at once.
 */
const PARTITION_FUNCTION = `CREATE OR REPLACE FUNCTION qrgate_entry_partitions(first_day INTEGER, last_day INTEGER) RETURNS INTEGER
LANGUAGE plpgsql AS $fn$
DECLARE
  made INTEGER := 0;
  part TEXT;
BEGIN
  PERFORM pg_advisory_xact_lock(${0x71726770}); -- "qrgp"
  FOR d IN first_day .. last_day LOOP
    part := 'entries_' || to_char(to_timestamp(d::bigint * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD');
    CONTINUE WHEN EXISTS (
      SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'entries'::regclass AND c.relname = part);
    EXECUTE format('CREATE TABLE %I (LIKE entries INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('ALTER TABLE entries ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                   part, d::bigint * ${PARTITION_DAY_MS}, (d::bigint + 1) * ${PARTITION_DAY_MS});
    made := made + 1;
  END LOOP;
  RETURN made;
END
$fn$`;

/**
 * Version 4 in PostgreSQL: the single `entries` table becomes one partitioned by day, in place and in the
 * migration's one transaction (a failure leaves the old table as it was). Old rows are copied, then the key and
 * indexes are built once over the copy (faster than maintaining them row by row).
 *
 * - The primary key is `(id, ts_ms)`: a partitioned table's unique keys must hold the partition key. The gate
 *   fixes an entry's `ts` when it journals it, with its `id`, and every re-send carries both unchanged, so
 *   de-duplicating by `(id, ts_ms)` finds exactly the redeliveries that de-duplicating by `id` found.
 * - `id` is `uuid` (16 bytes) instead of text (37): the contract's ids are UUIDs and both stores refuse any other
 *   form before the database sees it (`checkBatch`), lowercase, which is what PostgreSQL prints back, and a
 *   uuid sorts as its lowercase text does, so answers and their order are unchanged. An old row whose id is
 *   not a UUID (none should exist) is kept in `rejected` rather than failing the migration.
 * - Indexes: (site, door, ts) serves a door (one reader: the device is a filter on a door's one or two readers)
 *   and the contact join; (subject, ts) the subject and the contact query's first step; (site, ts) a site.
 *   No (ts) index: retention drops whole partitions. No (site, device, door, ts): one index fewer written per
 *   entry.
 * - No DEFAULT partition: with one, every later partition would have to scan it (under a lock on it), and
 *   a day whose rows sat there could not get its partition at all. A row whose day has no partition yet makes
 *   the store create that day and commit again (postgres-entry-store.ts); days ahead are made in advance.
 */
const PARTITION_ENTRIES: readonly string[] = [
  "ALTER TABLE entries RENAME TO entries_v3",
  "ALTER TABLE entries_v3 RENAME CONSTRAINT entries_pkey TO entries_v3_pkey",
  "DROP INDEX entries_door_ts, entries_subject_ts, entries_site_ts, entries_site_door_ts",
  "ALTER INDEX entries_ts RENAME TO entries_v3_ts",
  `CREATE TABLE entries (${PG_ENTRY_COLUMNS}
      ) PARTITION BY RANGE (ts_ms)`,
  PARTITION_FUNCTION,
  `SELECT qrgate_entry_partitions(d, d)
     FROM (SELECT DISTINCT (ts_ms / ${PARTITION_DAY_MS})::int AS d FROM entries_v3) AS days`,
  `INSERT INTO entries
   SELECT id::uuid, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms
     FROM entries_v3 WHERE id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`,
  `INSERT INTO rejected (topic, reason, payload, received_ms)
   SELECT 'migration 4', 'id: expected a UUID', convert_to(row_to_json(o)::text, 'UTF8'), o.received_ms
     FROM entries_v3 AS o WHERE id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`,
  "DROP TABLE entries_v3",
  "ALTER TABLE entries ADD CONSTRAINT entries_pkey PRIMARY KEY (id, ts_ms)",
  "CREATE INDEX entries_site_door_ts ON entries (site, door, ts_ms)",
  "CREATE INDEX entries_subject_ts ON entries (subject, ts_ms)",
  "CREATE INDEX entries_site_ts ON entries (site, ts_ms)",
];

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "entries, device state, events",
    sqlite: [
      `CREATE TABLE entries (
        id TEXT PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        site TEXT NOT NULL,
        device TEXT NOT NULL,
        door TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
        reason TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT,
        latency_ms REAL NOT NULL,
        status_version INTEGER NOT NULL,
        stale INTEGER NOT NULL CHECK (stale IN (0, 1)),
        received_ms INTEGER NOT NULL
      )`,
      ...INDEXES,
      `CREATE TABLE device_state (
        site TEXT NOT NULL,
        device TEXT NOT NULL,
        state TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        version TEXT,
        boot_id TEXT,
        received_ms INTEGER NOT NULL,
        PRIMARY KEY (site, device)
      )`,
      `CREATE TABLE events (
        key TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        device TEXT NOT NULL,
        type TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        payload TEXT NOT NULL,
        received_ms INTEGER NOT NULL
      )`,
      "CREATE INDEX IF NOT EXISTS events_ts ON events (ts_ms)",
    ],
    postgres: [
      `CREATE TABLE entries (
        id TEXT PRIMARY KEY,
        ts_ms BIGINT NOT NULL,
        site TEXT NOT NULL,
        device TEXT NOT NULL,
        door TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
        reason TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT,
        latency_ms DOUBLE PRECISION NOT NULL,
        status_version BIGINT NOT NULL,
        stale BOOLEAN NOT NULL,
        received_ms BIGINT NOT NULL
      )`,
      ...INDEXES,
      `CREATE TABLE device_state (
        site TEXT NOT NULL,
        device TEXT NOT NULL,
        state TEXT NOT NULL,
        ts_ms BIGINT NOT NULL,
        version TEXT,
        boot_id TEXT,
        received_ms BIGINT NOT NULL,
        PRIMARY KEY (site, device)
      )`,
      `CREATE TABLE events (
        key TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        device TEXT NOT NULL,
        type TEXT NOT NULL,
        ts_ms BIGINT NOT NULL,
        payload TEXT NOT NULL,
        received_ms BIGINT NOT NULL
      )`,
      "CREATE INDEX IF NOT EXISTS events_ts ON events (ts_ms)",
    ],
  },
  {
    version: 2,
    name: "rejected messages",
    sqlite: [
      `CREATE TABLE rejected (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload BLOB NOT NULL,
        received_ms INTEGER NOT NULL
      )`,
      "CREATE INDEX IF NOT EXISTS rejected_received ON rejected (received_ms)",
    ],
    postgres: [
      `CREATE TABLE rejected (
        seq BIGSERIAL PRIMARY KEY,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload BYTEA NOT NULL,
        received_ms BIGINT NOT NULL
      )`,
      "CREATE INDEX IF NOT EXISTS rejected_received ON rejected (received_ms)",
    ],
  },
  {
    version: 3,
    name: "a door across its readers",
    // A door's passages whichever reader took them: `trace --door D --site S` and the contact join.
    sqlite: ["CREATE INDEX IF NOT EXISTS entries_site_door_ts ON entries (site, door, ts_ms)"],
    postgres: ["CREATE INDEX IF NOT EXISTS entries_site_door_ts ON entries (site, door, ts_ms)"],
  },
  {
    version: 4,
    name: "entries partitioned by day",
    // SQLite keeps one table: its retention deletes in chunks that yield (sqlite-entry-store.ts).
    sqlite: [],
    postgres: PARTITION_ENTRIES,
  },
  {
    version: 5,
    name: "collector leases",
    // Who holds which collector's MQTT session (src/centre/collector-lease.ts, docs/centre.md "Take-over").
    sqlite: [leasesTable("INTEGER")],
    postgres: [leasesTable("BIGINT")],
  },
];

export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

/** The table that records applied versions, in either dialect. */
export const MIGRATIONS_TABLE_SQL =
  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)";

/**
 * When an incoming device state (`excluded`) replaces the stored one, in either dialect: a newer `ts` wins; and
 * an `offline` wins over the `online` (or `degraded`) of the same boot even with an older `ts`, because it is the MQTT will,
 * whose payload (and time) the device fixed when it connected, before it published `online`. The stored
 * `ts_ms` never goes backwards (the stores keep the greater), so a late `online` of the old boot stays out.
 */
export const STATE_IS_NEWER = `excluded.ts_ms > device_state.ts_ms
  OR (excluded.state = 'offline' AND device_state.state IN ('online', 'degraded')
      AND excluded.boot_id IS NOT DISTINCT FROM device_state.boot_id)`;
