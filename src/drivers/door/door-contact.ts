import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../clock.js";
import type { Bias, GpioChip, GpioInput } from "../gpio/gpio.js";

export type DoorPosition = "open" | "closed" | "unknown";

export interface DoorContactOptions {
  readonly pin: number;
  /** The level the line shows while the door is open. */
  readonly openLevel: "high" | "low";
  readonly bias: Bias;
  /** A new level must hold this long before it counts: a reed switch chatters as the door moves. */
  readonly debounceMs: number;
}

/**
 * A door contact (reed switch) on a GPIO input, debounced on the injected clock. `start` claims the line and reads
 * the door's position; every debounced change goes to `onChange` with its monotonic time.
 */
export class DoorContact {
  private input: GpioInput | null = null;
  private stable: DoorPosition = "unknown";
  private settle: CancelTimer | null = null;
  private readonly changes: Array<(p: DoorPosition, atMono: number) => void> = [];

  constructor(
    private readonly gpio: GpioChip,
    private readonly opts: DoorContactOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  get position(): DoorPosition {
    return this.stable;
  }

  onChange(fn: (p: DoorPosition, atMono: number) => void): void {
    this.changes.push(fn);
  }

  async start(): Promise<void> {
    if (this.input !== null) return;
    const input = await this.gpio.input(this.opts.pin, this.opts.bias);
    this.input = input;
    this.stable = this.positionOf(input.level);
    input.onChange((high) => this.raw(high));
    input.onFault((detail) => {
      this.log.error({ pin: this.opts.pin }, `door contact unreadable: ${detail}`);
      this.commit("unknown");
    });
    this.log.info({ pin: this.opts.pin, door: this.stable }, "door contact watched");
  }

  async stop(): Promise<void> {
    this.settle?.();
    this.settle = null;
    const input = this.input;
    this.input = null;
    this.stable = "unknown";
    await input?.release();
  }

  private positionOf(high: boolean): DoorPosition {
    return high === (this.opts.openLevel === "high") ? "open" : "closed";
  }

  private raw(high: boolean): void {
    if (this.input === null) return;
    const seen = this.positionOf(high);
    this.settle?.();
    this.settle = null;
    if (this.opts.debounceMs === 0) {
      this.commit(seen);
      return;
    }
    this.settle = this.clock.setTimer(this.opts.debounceMs, () => {
      this.settle = null;
      const now = this.input === null ? "unknown" : this.positionOf(this.input.level);
      this.commit(now);
    });
  }

  private commit(p: DoorPosition): void {
    if (p === this.stable) return;
    this.stable = p;
    const at = this.clock.monoMs();
    for (const fn of this.changes) fn(p, at);
  }
}
