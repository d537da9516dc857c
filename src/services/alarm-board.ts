import type { AlarmType } from "../contract/event.js";
import type { HealthAlarm } from "../contract/health.js";
import type { AlarmSink } from "./alarms.js";

/** How long a one-off alarm (`door_forced`, `journal_unavailable`) stays listed in health after it was raised. */
export const ONE_OFF_HOLD_MS = 5 * 60_000;

interface Active {
  readonly since: number;
  detail: string;
  /** Raised by a condition the health reporter watches (stays until the condition clears). */
  condition: boolean;
  lastRaisedMs: number;
}

/**
 * The device's active alarms, for health, and the one place alarm events leave from. Every alarm that becomes
 * active sends one event through `events` (the outbox): a condition alarm (stale cache, scanner lost, disk low,
 * clock unsynchronised) once on the way in, not again while it holds; a one-off alarm (a forced door) every
 * time it is raised, unless the same type is an active condition.
 */
export class AlarmBoard implements AlarmSink {
  private readonly active = new Map<AlarmType, Active>();

  constructor(
    private readonly events: AlarmSink,
    private readonly wallMs: () => number,
  ) {}

  /** A one-off alarm (the AlarmSink the gate and drivers use). */
  raise(type: AlarmType, detail: string): void {
    const now = this.wallMs();
    const cur = this.active.get(type);
    if (cur?.condition === true) {
      cur.detail = detail;
      return;
    }
    this.active.set(type, { since: cur?.since ?? now, detail, condition: false, lastRaisedMs: now });
    this.events.raise(type, detail);
  }

  /**
   * Sets a watched condition; raises its event only when it becomes active, and only when `event` (false for a
   * fault whose event its owner already sent).
   */
  setCondition(type: AlarmType, active: boolean, detail: string, event = true): void {
    const cur = this.active.get(type);
    if (!active) {
      if (cur !== undefined) this.active.delete(type);
      return;
    }
    if (cur !== undefined) {
      cur.detail = detail;
      cur.condition = true;
      return;
    }
    const now = this.wallMs();
    this.active.set(type, { since: now, detail, condition: true, lastRaisedMs: now });
    if (event) this.events.raise(type, detail);
  }

  /** What is active now, oldest first; one-off alarms drop out `ONE_OFF_HOLD_MS` after they were last raised. */
  list(): HealthAlarm[] {
    const now = this.wallMs();
    for (const [type, a] of this.active) {
      if (!a.condition && now - a.lastRaisedMs > ONE_OFF_HOLD_MS) this.active.delete(type);
    }
    return [...this.active.entries()]
      .sort((x, y) => x[1].since - y[1].since)
      .map(([type, a]) => ({ type, since: new Date(a.since).toISOString(), detail: a.detail }));
  }
}
