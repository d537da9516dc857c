import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../clock.js";

/** The door strike. Every implementation is fail-secure: off until told, off at stop. */
export interface Relay {
  /**
   * Releases the door for `pulseMs`. A pulse during a pulse extends it, but the door never stays released
   * longer than `maxPulseMs` from the first pulse of a run.
   */
  pulse(): void;
  /** Locks now and cancels any pulse. Synchronous so it can run on crash paths. */
  off(): void;
  readonly isOn: boolean;
}

export interface RelayTiming {
  readonly pulseMs: number;
  readonly maxPulseMs: number;
  /** The coil is energised by a low output (common on relay boards). */
  readonly activeLow: boolean;
}

/**
 * Pulse logic, inversion and fail-secure live here once; a driver implements only `writeLevel`.
 * The timing runs on the monotonic clock.
 */
export abstract class BaseRelay implements Relay {
  private on = false;
  private runStartMs = 0;
  private cancel: CancelTimer | null = null;

  protected constructor(
    protected readonly timing: RelayTiming,
    protected readonly clock: Clock,
    protected readonly log: Logger,
  ) {}

  /** Drives the output pin to `high`; throws on a hardware fault. */
  protected abstract writeLevel(high: boolean): void;

  get isOn(): boolean {
    return this.on;
  }

  /** Puts the output in the locked state; call once before first use. */
  init(): void {
    this.write(false);
  }

  pulse(): void {
    const now = this.clock.monoMs();
    if (!this.on) {
      this.runStartMs = now;
      this.write(true);
    }
    const endMs = Math.min(now + this.timing.pulseMs, this.runStartMs + this.timing.maxPulseMs);
    this.cancel?.();
    this.cancel = this.clock.setTimer(Math.max(0, endMs - now), () => {
      this.cancel = null;
      this.write(false);
    });
  }

  off(): void {
    this.cancel?.();
    this.cancel = null;
    this.write(false);
  }

  private write(on: boolean): void {
    this.writeLevel(on !== this.timing.activeLow);
    this.on = on;
    this.log.info({ on, monoMs: Math.round(this.clock.monoMs() * 1000) / 1000 }, on ? "relay on" : "relay off");
  }
}
