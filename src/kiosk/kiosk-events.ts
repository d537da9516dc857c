import type { BilingualText } from "./reason-texts.js";

/** The `result` event the kiosk page receives for every scan (src/web/kiosk/kiosk.js reads it). */
export interface KioskResultEvent {
  readonly seq: number;
  readonly decision: "allow" | "deny";
  readonly reason: string;
  readonly title: BilingualText;
  readonly next: BilingualText | null;
  /** The given name when the credential carried one and the person is let in; never the ID number. */
  readonly name: string | null;
  /** When the code's last byte arrived, ms since the epoch with sub-ms precision: the page measures to its pixels. */
  readonly entryMs: number;
}

/** The `status` event: sent on connect and whenever any of it changes. */
export interface KioskStatusEvent {
  /** The broker connection is up. */
  readonly online: boolean;
  /** The most serious device fault (src/services/device-faults.ts), or null. */
  readonly degraded: string | null;
  /** The status table is older than policy.maxCacheAgeHours (or was never loaded). */
  readonly stale: boolean;
  readonly lockdown: boolean;
  /** For the technician view only. */
  readonly tech: {
    readonly site: string;
    readonly device: string;
    readonly door: string;
    readonly version: string;
    readonly broker: string;
    /** ISO time the status table was last loaded, or null. */
    readonly lastSync: string | null;
    readonly statusVersion: number;
    readonly scanner: string;
    readonly relay: string;
    /** The door contact (`open`, `closed`, … and whether it was forced); null when the gate has none. */
    readonly doorContact: string | null;
  };
}
