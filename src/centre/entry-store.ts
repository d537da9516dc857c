/**
 * The centre's store: entries, device state and events received from the fleet, and the questions contact
 * tracing asks of them. One interface, two implementations (embedded SQLite by default, PostgreSQL at city
 * scale) with the same logical schema and migrations; `tests/centre/entry-store-contract.ts` runs one suite
 * against both.
 *
 * Time is UTC epoch milliseconds everywhere in this interface (and in both schemas, as a 64-bit integer), so
 * both stores give identical answers.
 */
import type { EntryMessage } from "../contract/entry.js";

/** One reader of a door: its site, device and door together (`--door SITE/DEVICE/DOOR`). */
export interface DoorRef {
  readonly site: string;
  readonly device: string;
  readonly door: string;
}

/**
 * A door as people mix at it: its site and its name, whichever reader (device) guards it. One door may have
 * several readers (two lanes, an in and an out reader); they all count (docs/contract.md §6).
 */
export interface SiteDoorRef {
  readonly site: string;
  readonly door: string;
}

/**
 * Where a contact is counted: `door` (default) at the same door of the same site, whichever reader; `site`
 * at any door of the same site.
 */
export type ContactScope = "door" | "site";

/** Half-open range `[fromMs, toMs)` of UTC epoch milliseconds. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface QueryOptions {
  /**
   * Also return denied entries. By default only `allow` entries count: a denied person did not pass the door.
   * For contacts it applies to both the subject's passages and the others'.
   */
  readonly includeDenied?: boolean;
}

/** Which entries a listing asks for: one reader, a door across its readers, a site, or a subject. */
export type EntryQuery =
  | { readonly door: DoorRef }
  | { readonly siteDoor: SiteDoorRef }
  | { readonly site: string }
  | { readonly subject: string };

export interface ContactOptions extends QueryOptions {
  /** Default `door`. */
  readonly scope?: ContactScope;
}

/** The last known state of a device (`…/state`, retained, docs/contract.md §5.3). */
export interface DeviceState {
  readonly site: string;
  readonly device: string;
  readonly state: "online" | "degraded" | "offline";
  readonly tsMs: number;
  readonly version: string | null;
  readonly bootId: string | null;
  readonly receivedMs: number;
}

/** An alarm or other event a device reported (`…/event`). */
export interface DeviceEvent {
  /** Idempotency key: the payload's `id` when it has one, else a hash of topic and payload. */
  readonly key: string;
  readonly site: string;
  readonly device: string;
  readonly type: string;
  readonly tsMs: number;
  /** The payload as received (JSON text). */
  readonly payload: string;
  readonly receivedMs: number;
}

/**
 * A message the centre would not store (unreadable, against the contract, naming another device than its topic,
 * or refused by the database), kept for an admin to look at: the `rejected` table.
 */
export interface RejectedMessage {
  readonly topic: string;
  /** Why, in a few words (never the refused value itself). */
  readonly reason: string;
  /** The first 4 KB of the payload, as received. */
  readonly payload: Buffer;
  /** When the centre received it (UTC epoch ms). */
  readonly receivedMs: number;
}

/** What one collector batch commits, in one transaction. */
export interface IngestBatch {
  readonly entries: readonly EntryMessage[];
  readonly states: readonly DeviceState[];
  readonly events: readonly DeviceEvent[];
  /** Messages set aside, committed with the rest so that acknowledging them is safe. */
  readonly rejected?: readonly RejectedMessage[];
  /** When the centre received the batch (UTC epoch ms), stored beside each row. */
  readonly receivedMs: number;
  /**
   * True: every entry was made by `parseEntryMessage` and not changed since, so the store's own check
   * (`checkBatch`) need not read them again: the parser refuses all it refuses (a property test holds it to that).
   * Only the collector says so; states, events and rejected rows are checked regardless.
   */
  readonly entriesParsed?: boolean;
}

export interface IngestResult {
  /** Entries that were new (the rest were already stored: redeliveries). */
  readonly newEntries: number;
  readonly newEvents: number;
  /** States that replaced an older one (a stale or repeated retained state changes nothing). */
  readonly statesApplied: number;
}

/**
 * One pairing found by a contact query: a passage `p` of the subject and a passage `e` of someone else at the
 * same door with `|e.ts - p.ts| <= window`. The ranking is done by `rankContacts` over these pairs.
 */
export interface ContactPair {
  readonly subjectEntryId: string;
  readonly subjectTsMs: number;
  readonly entry: EntryMessage;
}

/**
 * A collector's lease on an MQTT session (src/centre/collector-lease.ts): while it holds, only `holder` may connect
 * with the client id `name`. Times are the store's clock (PostgreSQL's, for collectors on several hosts).
 */
export interface CollectorLease {
  /** The collector whose session this is (its MQTT client id). */
  readonly name: string;
  /** Its shared subscription group: collectors take over only within their group. */
  readonly group: string;
  /** The collector holding it: `name` itself, or one that took its session over. */
  readonly holder: string;
  /** The holder's process (random per start): a renewal from any other process fails. */
  readonly instance: string;
  readonly renewedMs: number;
  readonly expiresMs: number;
  /** `expiresMs` has passed by the store's clock: anyone of the group may take it. */
  readonly expired: boolean;
}

/** A claim on a lease: by the collector itself (`holder` = `name`) or by one taking its session over. */
export interface LeaseClaim {
  readonly name: string;
  readonly group: string;
  readonly holder: string;
  readonly instance: string;
  /** How long it holds without renewal; 0 makes it expire at once (tests). */
  readonly ttlMs: number;
}

export interface EntryStore {
  /** `sqlite` or `postgres`. */
  readonly kind: "sqlite" | "postgres";

  /** Applies pending migrations (safe to call from several processes at once); returns the schema version. */
  migrate(): Promise<number>;

  /** Current schema version, 0 for an empty database. */
  schemaVersion(): Promise<number>;

  /**
   * Commits entries, device states, events and rejected messages in one transaction; entries and events are
   * idempotent by `id` / `key` (a redelivery changes nothing). When this resolves, the rows are durable. When
   * it rejects, nothing of the batch is stored; `isDataError` tells whether a row's content was refused.
   */
  commitBatch(batch: IngestBatch): Promise<IngestResult>;

  /**
   * True when `e` (thrown by `commitBatch`) means a row was refused for what it holds: the same batch would
   * fail again, forever. False for a failing store (connection lost, disk full, timeout): retry later.
   * Both stores refuse the same rows (`checkBatch`) before the database sees them.
   */
  isDataError(e: unknown): boolean;

  /** Rejected messages received in the range, oldest first. */
  rejectedMessages(range: TimeRange): Promise<RejectedMessage[]>;

  /** `commitBatch` for entries alone; returns how many were new. */
  insertEntries(entries: readonly EntryMessage[], receivedMs?: number): Promise<number>;

  /** Stores a device state unless a newer one is already stored; returns whether it was applied. */
  upsertDeviceState(state: DeviceState): Promise<boolean>;

  /** Stores an event unless its key is already stored; returns whether it was new. */
  insertEvent(event: DeviceEvent): Promise<boolean>;

  /** Entries at one reader of a door in the range, in time order (ties by id). */
  entriesAtDoor(door: DoorRef, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]>;

  /** Entries at every reader of a door of a site in the range, in time order (ties by id). */
  entriesAtSiteDoor(door: SiteDoorRef, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]>;

  /** Entries at every door of a site in the range, in time order (ties by id). */
  entriesAtSite(site: string, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]>;

  /**
   * The answer of `entriesAtDoor`/`entriesAtSiteDoor`/`entriesAtSite`/`entriesOfSubject` page by page, in the
   * same order (time, then id), each page at most `pageSize` entries, so that an answer of any size can be
   * written without holding it whole. Keyset paging: each page is one indexed query after the last (ts, id).
   */
  entryPages(query: EntryQuery, range: TimeRange, opts?: QueryOptions, pageSize?: number): AsyncGenerator<EntryMessage[]>;

  /** Passages of one subject (as stored: the clear ID or its keyed hash) in the range, in time order. */
  entriesOfSubject(subject: string, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]>;

  /**
   * Every pair (subject passage in the range, other person's passage at the same door of the same site,
   * whichever reader, or with `scope: "site"` anywhere on the same site, within `windowMs` of it). The other
   * passage may lie up to `windowMs` outside the range. Entries with no subject are ignored.
   */
  contactPairs(subject: string, range: TimeRange, windowMs: number, opts?: ContactOptions): Promise<ContactPair[]>;

  /** Device states, by site and device. */
  deviceStates(): Promise<DeviceState[]>;

  /** Events in the range, in time order. */
  events(range: TimeRange): Promise<DeviceEvent[]>;

  /** Number of stored entries. */
  countEntries(): Promise<number>;

  /**
   * Deletes entries, events and rejected messages older than `beforeMs` (retention); returns how many rows went.
   * PostgreSQL drops entries by whole UTC days (partitions): those of the day holding `beforeMs` stay until that
   * day has passed. SQLite deletes to the millisecond, in chunks that let the event loop run between them.
   */
  purge(beforeMs: number): Promise<{ entries: number; events: number; rejected: number }>;

  /**
   * Takes the lease if nobody holds it, if it has expired, or if `claim.holder` holds it already (a restart of that
   * collector); atomic across processes. Returns whether it is now the claimant's.
   */
  acquireLease(claim: LeaseClaim): Promise<boolean>;

  /** Extends the lease held by `instance` by `ttlMs` from now; false if that process no longer holds it. */
  renewLease(name: string, instance: string, ttlMs: number): Promise<boolean>;

  /** Gives up the lease if `instance` holds it (the row goes); returns whether it did. */
  releaseLease(name: string, instance: string): Promise<boolean>;

  /** The leases of one group, by name, with whether each has expired by the store's clock. */
  leases(group: string): Promise<CollectorLease[]>;

  close(): Promise<void>;
}
