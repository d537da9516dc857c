import type { Logger } from "pino";
import type { CancelTimer, Clock } from "../drivers/clock.js";
import type { GpioChip, GpioOutput } from "../drivers/gpio/gpio.js";
import {
  FAULT_BEEP_MS,
  FAULT_PERIOD,
  FAULT_PERIOD_MS,
  SIGNAL_PATTERNS,
  type IndicatorSignal,
  type IndicatorStep,
} from "../drivers/indicator/indicator-patterns.js";

export interface IndicatorLines {
  readonly green?: number;
  readonly red?: number;
  readonly buzzer?: number;
  readonly activeLow: boolean;
}

type Colour = "green" | "red" | "buzzer";
const COLOURS: readonly Colour[] = ["green", "red", "buzzer"];

/**
 * Drives the reader's LEDs and buzzer through the patterns in indicator-patterns.ts, on the injected clock. Only the
 * configured lines are claimed; with none configured it does nothing. Cosmetic: a failed write is logged, never
 * thrown into the gate.
 */
export class Indicator {
  private readonly outs = new Map<Colour, GpioOutput>();
  private timers: CancelTimer[] = [];
  private readonly faults = new Set<string>();
  private playing = false;
  private running = false;

  constructor(
    private readonly gpio: GpioChip,
    private readonly lines: IndicatorLines,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** True when at least one line is configured. */
  get enabled(): boolean {
    return COLOURS.some((c) => this.lines[c] !== undefined);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const c of COLOURS) {
      const pin = this.lines[c];
      if (pin === undefined || this.outs.has(c)) continue;
      this.outs.set(c, await this.gpio.output(pin, this.lines.activeLow));
    }
    if (this.faults.size > 0) this.faultLoop(true);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancel();
    this.apply({ atMs: 0, green: false, red: false, buzzer: false });
    for (const out of this.outs.values()) await out.release();
    this.outs.clear();
  }

  /** Plays allow or deny; a fault blink resumes after it. */
  signal(s: IndicatorSignal): void {
    if (!this.running) return;
    this.cancel();
    this.playing = true;
    const steps = SIGNAL_PATTERNS[s];
    for (const st of steps) this.at(st.atMs, () => this.apply(st));
    const end = steps.at(-1)?.atMs ?? 0;
    this.at(end, () => {
      this.playing = false;
      if (this.faults.size > 0) this.faultLoop(false);
    });
  }

  /** A fault from `source` starts or ends; the red blink runs while any is active. */
  setFault(source: string, active: boolean): void {
    const had = this.faults.size > 0;
    if (active) this.faults.add(source);
    else this.faults.delete(source);
    const has = this.faults.size > 0;
    if (!this.running || this.playing || had === has) return;
    this.cancel();
    if (has) this.faultLoop(true);
    else this.apply({ atMs: 0, green: false, red: false, buzzer: false });
  }

  private faultLoop(beep: boolean): void {
    const period = (first: boolean): void => {
      for (const st of FAULT_PERIOD) {
        this.at(st.atMs, () => this.apply(first && beep && st.atMs < FAULT_BEEP_MS ? { ...st, buzzer: true } : st));
      }
      if (first && beep) this.at(FAULT_BEEP_MS, () => this.write("buzzer", false));
      this.at(FAULT_PERIOD_MS, () => {
        this.timers = [];
        period(false);
      });
    };
    period(true);
  }

  /** Runs `fn` after `ms`; at 0 now, so a light comes on in the same tick as the decision. */
  private at(ms: number, fn: () => void): void {
    if (ms === 0) fn();
    else this.timers.push(this.clock.setTimer(ms, fn));
  }

  private cancel(): void {
    for (const t of this.timers) t();
    this.timers = [];
    this.playing = false;
  }

  private apply(st: IndicatorStep): void {
    this.write("green", st.green);
    this.write("red", st.red);
    this.write("buzzer", st.buzzer);
  }

  private write(c: Colour, on: boolean): void {
    const out = this.outs.get(c);
    if (out === undefined) return;
    try {
      out.write(on !== this.lines.activeLow);
    } catch (e) {
      this.log.warn({ line: c, err: (e as Error).message }, "indicator line write failed");
    }
  }
}
