import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../drivers/clock.js";
import type { DoorContact, DoorPosition } from "../drivers/door/door-contact.js";
import type { AlarmSink } from "./alarms.js";

export interface DoorMonitorSettings {
  /** `door_held` when the door stays open longer than this. */
  readonly heldOpenMs: number;
  /** An opening this soon after an allow (the relay's pulse, plus the contact's debounce) is the allowed person. */
  readonly allowWindowMs: number;
}

/** The door as `state`/health show it. */
export interface DoorStatus {
  readonly position: DoorPosition;
  /** Monotonic ms of the last change of position; null before the first reading. */
  readonly sinceMono: number | null;
  /** The current opening had no allow before it. */
  readonly forced: boolean;
  /** The current opening has lasted longer than `heldOpenMs`. */
  readonly held: boolean;
}

/**
 * Watches the door contact against the gate's decisions: an opening with no allow (and no released relay) in the
 * last pulse window is `door_forced`; an opening that lasts past `heldOpenMs` is `door_held`. Both go out as events
 * through the outbox.
 */
export class DoorMonitor {
  private lastAllowMono = -Infinity;
  private sinceMono: number | null = null;
  private forced = false;
  private held = false;
  private heldTimer: CancelTimer | null = null;
  private running = false;

  constructor(
    private readonly contact: DoorContact,
    private readonly settings: DoorMonitorSettings,
    private readonly isReleased: () => boolean,
    private readonly alarms: AlarmSink,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    contact.onChange((p, at) => this.changed(p, at));
  }

  /** Told of every allow (the gate's outcome, a remote open): the door may open for the next pulse window. */
  allowed(): void {
    this.lastAllowMono = this.clock.monoMs();
  }

  get status(): DoorStatus {
    return { position: this.contact.position, sinceMono: this.sinceMono, forced: this.forced, held: this.held };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.contact.start();
    this.sinceMono = this.clock.monoMs();
    // Open at start: nobody knows why, so no door_forced, but the clock for door_held runs.
    if (this.contact.position === "open") this.armHeld();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.heldTimer?.();
    this.heldTimer = null;
    await this.contact.stop();
  }

  private changed(p: DoorPosition, at: number): void {
    if (!this.running) return;
    this.sinceMono = at;
    this.heldTimer?.();
    this.heldTimer = null;
    if (p !== "open") {
      if (this.held) this.log.info("door closed after being held open");
      this.forced = false;
      this.held = false;
      return;
    }
    const sinceAllow = at - this.lastAllowMono;
    if (!this.isReleased() && !(sinceAllow <= this.settings.allowWindowMs)) {
      this.forced = true;
      const why = Number.isFinite(sinceAllow) ? `last allow ${Math.round(sinceAllow / 1000)} s before` : "no allow since start";
      this.alarms.raise("door_forced", `door opened without an allow (${why}; window ${this.settings.allowWindowMs} ms)`);
    }
    this.armHeld();
  }

  private armHeld(): void {
    this.heldTimer = this.clock.setTimer(this.settings.heldOpenMs, () => {
      this.heldTimer = null;
      this.held = true;
      this.alarms.raise("door_held", `door open for more than ${Math.round(this.settings.heldOpenMs / 1000)} s`);
    });
  }
}
