/** The retained payload of `<root>/<site>/<device>/state` (docs/contract.md §5.3, contract). */
export interface DeviceStateMessage {
  /** `degraded`: running, but refusing or failing people for a fault named in `reason` (journal, relay). */
  readonly state: "online" | "offline" | "degraded";
  /** With `degraded`: the alarm type of the most serious fault, e.g. `journal_unavailable`. */
  readonly reason?: string;
  /** With `degraded`: words for the admin. */
  readonly detail?: string;
  readonly ts: string;
  /** qrgate's version. */
  readonly version: string;
  /** A fresh UUID per process start, so the centre can tell a restart from a reconnect. */
  readonly bootId: string;
}
