import type { Logger } from "pino";
import type { AlarmType } from "../contract/event.js";

/** Faults that make the gate refuse people or fail to open for them; each puts the device in `degraded`. */
export type FaultKind = Extract<AlarmType, "journal_unavailable" | "relay_fault">;

/** Most serious first: the state's `reason` is the first active one in this order. */
const SEVERITY: readonly FaultKind[] = ["journal_unavailable", "relay_fault"];

/** What the retained `state` says besides online/offline. */
export interface DeviceCondition {
  readonly state: "online" | "degraded";
  /** The most serious active fault. */
  readonly reason?: FaultKind;
  /** Words for the admin about `reason`; never personal data. */
  readonly detail?: string;
  /** Every active fault, most serious first. */
  readonly faults: readonly FaultKind[];
}

/** Told of a fault the moment it starts; must not depend on the local store (it may be the thing that failed). */
export interface DirectAlarmSink {
  raiseDirect(event: FaultKind, detail: string): void;
}

/**
 * Tracks faults that are visible only in the gate's own behaviour (a refusal it cannot journal, a relay that
 * does not move). The first occurrence raises its alarm straight away, from memory, and turns the device state
 * to `degraded`; the first success afterwards clears it. Repeats while a fault is active are only counted, so a
 * queue of refused people does not flood the uplink.
 */
export class DeviceFaults {
  private readonly active = new Map<FaultKind, { detail: string; count: number }>();
  private readonly listeners: Array<(c: DeviceCondition) => void> = [];

  constructor(
    private readonly alarms: DirectAlarmSink,
    private readonly log: Logger,
  ) {}

  onChange(fn: (c: DeviceCondition) => void): void {
    this.listeners.push(fn);
  }

  /** The fault happened (again). Cheap when it is already active. */
  report(kind: FaultKind, detail: string): void {
    const known = this.active.get(kind);
    if (known !== undefined) {
      known.count++;
      return;
    }
    this.active.set(kind, { detail, count: 1 });
    this.log.error({ fault: kind, detail }, "device degraded");
    this.alarms.raiseDirect(kind, detail);
    this.emit();
  }

  /** The faulty function worked: clears the fault if it was active. Cheap when it was not. */
  resolve(kind: FaultKind): void {
    const known = this.active.get(kind);
    if (known === undefined) return;
    this.active.delete(kind);
    this.log.info({ fault: kind, occurrences: known.count }, "fault cleared");
    this.emit();
  }

  condition(): DeviceCondition {
    const faults = SEVERITY.filter((k) => this.active.has(k));
    const first = faults[0];
    if (first === undefined) return { state: "online", faults };
    return { state: "degraded", reason: first, detail: this.active.get(first)?.detail ?? "", faults };
  }

  private emit(): void {
    const c = this.condition();
    for (const fn of this.listeners) fn(c);
  }
}
