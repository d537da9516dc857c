/**
 * Reports refused centre messages (bad signature, older version, malformed, oversized, refused command) as events,
 * without letting a sender flood the outbox: the same key is reported once, and at most `perMinute` reports go out
 * in any minute (the rest are logged and counted).
 */
import type { Logger } from "pino";
import type { AlarmType } from "../contract/event.js";
import type { Clock } from "../drivers/clock.js";
import type { AlarmSink } from "../services/alarms.js";

const MINUTE_MS = 60_000;
/** Keys remembered for "once"; beyond this the oldest are forgotten (a repeat is then reported again). */
const MAX_KEYS = 10_000;

export class Refusals {
  private readonly seen = new Set<string>();
  private windowStart = -Infinity;
  private inWindow = 0;
  /** Reports dropped by the rate limit since start, for health. */
  suppressed = 0;

  constructor(
    private readonly alarms: AlarmSink,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly perMinute = 30,
  ) {}

  /** Raises `event` with `detail` unless `key` was reported already or the minute's budget is spent. */
  report(event: AlarmType, key: string, detail: string): void {
    if (this.seen.has(key)) {
      this.log.debug({ event, key }, "refusal already reported");
      return;
    }
    if (this.seen.size >= MAX_KEYS) this.seen.delete(this.seen.values().next().value as string);
    this.seen.add(key);
    const now = this.clock.monoMs();
    if (now - this.windowStart >= MINUTE_MS) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perMinute) {
      this.suppressed++;
      this.log.warn({ event, detail }, "refusal not reported as an event: too many this minute");
      return;
    }
    this.inWindow++;
    this.alarms.raise(event, detail);
  }
}
