import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../clock.js";

/** The door strike. Every implementation is fail-secure: off until told, off at stop. */
export interface Relay {
  /**
   * Releases the door for `pulseMs`. A pulse during a pulse extends it, but the door never stays released
   * longer than `maxPulseMs` from the first pulse of a run. Throws a {@link RelayError} with code
   * `E_RELAY_NOT_STARTED` before `start`/`init` (a misuse), or `E_RELAY_FAULT` when the hardware refused the write
   * (the door stays locked). After `stop` a pulse is refused with a log line: the door stays locked.
   */
  pulse(): void;
  /** Locks now and cancels any pulse. Synchronous so it can run on crash paths; throws `E_RELAY_FAULT` on a fault. */
  off(): void;
  readonly isOn: boolean;
}

export interface RelayTiming {
  readonly pulseMs: number;
  readonly maxPulseMs: number;
  /** The coil is energised by a low output (common on relay boards). */
  readonly activeLow: boolean;
}

export type RelayErrorCode = "E_RELAY_NOT_STARTED" | "E_RELAY_FAULT";

/** A relay misuse or hardware fault; `code` tells them apart, never the message text. */
export class RelayError extends Error {
  constructor(
    readonly code: RelayErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "RelayError";
  }
}

/** How often a relay whose "off" write failed tries again: the door must not stay released. */
export const RELAY_OFF_RETRY_MS = 1000;

type Phase = "new" | "started" | "stopped";

/**
 * Pulse logic, inversion and fail-secure live here once; a driver implements only `writeLevel` (and, when it holds
 * a device, `openHardware`/`closeHardware`). The timing runs on the monotonic clock.
 */
export abstract class BaseRelay implements Relay {
  private on = false;
  private phase: Phase = "new";
  private runStartMs = 0;
  private cancel: CancelTimer | null = null;
  private lastFault: string | null = null;

  protected constructor(
    protected readonly timing: RelayTiming,
    protected readonly clock: Clock,
    protected readonly log: Logger,
  ) {}

  /** Drives the output pin to `high`; throws on a hardware fault. Synchronous: it runs on crash paths. */
  protected abstract writeLevel(high: boolean): void;

  /** Claims the output line (export, open a holder process …). Called once by `start` before the first write. */
  protected openHardware(): Promise<void> {
    return Promise.resolve();
  }

  /** Releases the output line after the final "off" write. */
  protected closeHardware(): Promise<void> {
    return Promise.resolve();
  }

  get isOn(): boolean {
    return this.on;
  }

  /** The last hardware fault (null once a write succeeds again): for health and `doctor`. */
  get fault(): string | null {
    return this.lastFault;
  }

  /** Claims the hardware and locks the door. A second call does nothing. Rejects when the line cannot be claimed. */
  async start(): Promise<void> {
    if (this.phase === "started") return;
    await this.openHardware();
    this.init();
  }

  /**
   * Puts the output in the locked state and allows pulses; synchronous for drivers with nothing to open (sim).
   * `start` calls it; call one or the other before first use.
   */
  init(): void {
    this.phase = "started";
    this.write(false);
  }

  /** Locks the door and releases the hardware. Safe to call more than once, or before start. */
  async stop(): Promise<void> {
    if (this.phase === "stopped") return;
    const wasStarted = this.phase === "started";
    this.phase = "stopped";
    this.cancel?.();
    this.cancel = null;
    if (wasStarted) {
      try {
        this.write(false);
      } catch (e) {
        this.log.fatal({ err: (e as Error).message }, "could not switch the relay off at stop");
      }
    }
    await this.closeHardware();
  }

  pulse(): void {
    if (this.phase === "new") throw new RelayError("E_RELAY_NOT_STARTED", "relay pulsed before start: call start() or init() first");
    if (this.phase === "stopped") {
      this.log.error("relay pulsed after stop: refused, the door stays locked");
      return;
    }
    const now = this.clock.monoMs();
    if (!this.on) {
      this.runStartMs = now;
      this.write(true);
    }
    const endMs = Math.min(now + this.timing.pulseMs, this.runStartMs + this.timing.maxPulseMs);
    this.cancel?.();
    this.cancel = this.clock.setTimer(Math.max(0, endMs - now), () => {
      this.cancel = null;
      this.lockFromTimer();
    });
  }

  off(): void {
    this.cancel?.();
    this.cancel = null;
    this.write(false);
  }

  /** The end of a pulse: a failed write is retried, never thrown into a timer (that would crash the process). */
  private lockFromTimer(): void {
    try {
      this.write(false);
    } catch (e) {
      this.log.fatal({ err: (e as Error).message, retryMs: RELAY_OFF_RETRY_MS }, "relay fault: could not lock the door, retrying");
      if (this.phase === "started") {
        this.cancel = this.clock.setTimer(RELAY_OFF_RETRY_MS, () => {
          this.cancel = null;
          this.lockFromTimer();
        });
      }
    }
  }

  private write(on: boolean): void {
    try {
      this.writeLevel(on !== this.timing.activeLow);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.lastFault = why;
      // The hardware's own words first: they are what a technician searches for.
      throw new RelayError("E_RELAY_FAULT", `${why} (relay hardware fault switching ${on ? "on" : "off"})`);
    }
    this.lastFault = null;
    this.on = on;
    this.log.info({ on, monoMs: Math.round(this.clock.monoMs() * 1000) / 1000 }, on ? "relay on" : "relay off");
  }
}
