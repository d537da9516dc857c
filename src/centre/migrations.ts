/**
 * Schema migrations of the centre's store, one list for both SQLite and PostgreSQL: the same versions, the
 * same tables, columns and indexes, written in each dialect. Applied versions are recorded in
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
    name: "collector leases",
    // Who holds which collector's MQTT session (src/centre/collector-lease.ts, docs/centre.md "Take-over").
    // `IF NOT EXISTS`: safe to renumber when merged beside other migrations.
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
