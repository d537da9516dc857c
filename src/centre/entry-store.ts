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

/** A door is its site, device and door together (DESIGN §6). */
export interface DoorRef {
  readonly site: string;
  readonly device: string;
  readonly door: string;
}

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

/** The last known state of a device (`…/state`, retained, DESIGN §5). */
export interface DeviceState {
  readonly site: string;
  readonly device: string;
  readonly state: "online" | "offline";
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

/** What one collector batch commits, in one transaction. */
export interface IngestBatch {
  readonly entries: readonly EntryMessage[];
  readonly states: readonly DeviceState[];
  readonly events: readonly DeviceEvent[];
  /** When the centre received the batch (UTC epoch ms), stored beside each row. */
  readonly receivedMs: number;
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

export interface EntryStore {
  /** `sqlite` or `postgres`. */
  readonly kind: "sqlite" | "postgres";

  /** Applies pending migrations (safe to call from several processes at once); returns the schema version. */
  migrate(): Promise<number>;

  /** Current schema version, 0 for an empty database. */
  schemaVersion(): Promise<number>;

  /**
   * Commits entries, device states and events in one transaction; entries and events are idempotent by
   * `id` / `key` (a redelivery changes nothing). When this resolves, the rows are durable.
   */
  commitBatch(batch: IngestBatch): Promise<IngestResult>;

  /** `commitBatch` for entries alone; returns how many were new. */
  insertEntries(entries: readonly EntryMessage[], receivedMs?: number): Promise<number>;

  /** Stores a device state unless a newer one is already stored; returns whether it was applied. */
  upsertDeviceState(state: DeviceState): Promise<boolean>;

  /** Stores an event unless its key is already stored; returns whether it was new. */
  insertEvent(event: DeviceEvent): Promise<boolean>;

  /** Entries at one door in the range, in time order (ties by id). */
  entriesAtDoor(door: DoorRef, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]>;

  /** Entries at every door of a site in the range, in time order (ties by id). */
  entriesAtSite(site: string, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]>;

  /** Passages of one subject (as stored: the clear ID or its keyed hash) in the range, in time order. */
  entriesOfSubject(subject: string, range: TimeRange, opts?: QueryOptions): Promise<EntryMessage[]>;

  /**
   * Every pair (subject passage in the range, other person's passage at the same door within `windowMs` of
   * it). The other passage may lie up to `windowMs` outside the range. Entries with no subject are ignored.
   */
  contactPairs(subject: string, range: TimeRange, windowMs: number, opts?: QueryOptions): Promise<ContactPair[]>;

  /** Device states, by site and device. */
  deviceStates(): Promise<DeviceState[]>;

  /** Events in the range, in time order. */
  events(range: TimeRange): Promise<DeviceEvent[]>;

  /** Number of stored entries. */
  countEntries(): Promise<number>;

  /** Deletes entries and events older than `beforeMs` (retention); returns how many rows went. */
  purge(beforeMs: number): Promise<{ entries: number; events: number }>;

  close(): Promise<void>;
}
