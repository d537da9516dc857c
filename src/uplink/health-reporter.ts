import type { Logger } from "pino";
import type { HealthMessage } from "../contract/health.js";
import type { CancelTimer, Clock } from "../drivers/clock.js";
import type { AlarmBoard } from "../services/alarm-board.js";
import { buildHealth, conditionAlarms, type HealthSnapshot, type HealthThresholds } from "../services/health-model.js";

/** What the reporter reads synchronously at each tick, through the getters the composition root gives it. */
export type HealthReadings = Omit<HealthSnapshot, "nowMs" | "diskFreeBytes" | "clockSynchronised" | "alarms" | "periodS">;

export interface HealthReporterPorts {
  readonly read: () => HealthReadings;
  /** Free bytes on the store's file system, or null; never rejects. */
  readonly diskFree: () => Promise<number | null>;
  /** Whether a time service says the clock is synchronised; never rejects, bounded in time. */
  readonly timeSynchronised: () => Promise<boolean>;
  readonly alarms: AlarmBoard;
  /** Publishes the retained health (QoS 0); returns false when not connected. Never throws. */
  readonly publish: (payload: string) => boolean;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface HealthReporterOptions {
  readonly periodS: number;
  readonly thresholds: HealthThresholds;
}

/**
 * Every `periodS`, and at once on every (re)connect: reads the gate through getters, probes disk and clock,
 * updates the condition alarms (each raises one event on the way in), and publishes the retained health.
 * Constructing it does nothing; `start` schedules, `stop` cancels and waits for a tick under way.
 */
export class HealthReporter {
  private timer: CancelTimer | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  /** Once stopped, never started again: a stop can overtake a start still under way. */
  private ended = false;
  private lastMsg: HealthMessage | null = null;

  constructor(
    private readonly ports: HealthReporterPorts,
    private readonly opts: HealthReporterOptions,
  ) {}

  /** The last health built (published or not). */
  get last(): HealthMessage | null {
    return this.lastMsg;
  }

  start(): void {
    if (this.ended) return;
    this.stopped = false;
    this.schedule();
    this.now();
  }

  /** Builds and publishes health now (on connect); a tick already under way is followed by one more. */
  now(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.tick().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.now();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ended = true;
    this.timer?.();
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    this.timer = this.ports.clock.setTimer(this.opts.periodS * 1000, () => {
      if (this.stopped) return;
      this.schedule();
      this.now();
    });
  }

  private async tick(): Promise<void> {
    const p = this.ports;
    try {
      const [diskFreeBytes, clockSynchronised] = await Promise.all([p.diskFree(), p.timeSynchronised()]);
      if (this.stopped) return;
      const snap: HealthSnapshot = {
        ...p.read(),
        nowMs: p.clock.wallMs(),
        periodS: this.opts.periodS,
        diskFreeBytes,
        clockSynchronised,
        alarms: [],
      };
      for (const c of conditionAlarms(snap, this.opts.thresholds)) p.alarms.setCondition(c.type, c.active, c.detail);
      const msg = buildHealth({ ...snap, alarms: p.alarms.list() });
      this.lastMsg = msg;
      p.publish(JSON.stringify(msg));
    } catch (e) {
      // Health is a report; a failure to build one must never reach the scan path.
      p.log.warn({ err: (e as Error).message }, "health report failed");
    }
  }
}
