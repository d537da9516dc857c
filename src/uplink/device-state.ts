/** The retained payload of `<root>/<site>/<device>/state` (DESIGN §5, contract). */
export interface DeviceStateMessage {
  readonly state: "online" | "offline";
  readonly ts: string;
  /** qrgate's version. */
  readonly version: string;
  /** A fresh UUID per process start, so the centre can tell a restart from a reconnect. */
  readonly bootId: string;
}
