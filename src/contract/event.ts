/** Alarms a device raises (docs/contract.md §5.5), published at QoS 1 on `<root>/<site>/<device>/event`. */
export type AlarmType =
  | "door_forced"
  | "door_held"
  | "scanner_lost"
  | "stale_cache"
  | "disk_low"
  | "journal_unavailable"
  | "relay_fault"
  | "clock_jump"
  | "clock_unsynchronised"
  | "bad_message"
  // Centre feeds (docs/contract.md §5.7): a refused message, a gap in the delta sequence, a refused command.
  | "sync_refused"
  | "sync_gap"
  | "command_refused";

/** The payload of `qrgate/v1/<site>/<device>/event`. `id` is a UUIDv7, stable across retries. */
export interface EventMessage {
  readonly id: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly ts: string;
  readonly site: string;
  readonly device: string;
  readonly event: AlarmType;
  /** Words for the admin; never personal data. */
  readonly detail: string;
}
