/**
 * GPIO lines in memory behind the GpioChip interface, on the fake clock: outputs record every level with its time,
 * inputs change when the test says. It enforces the contract: a line claimed twice is busy, a released line refuses
 * writes.
 */
import { GpioError, type Bias, type GpioChip, type GpioInput, type GpioOutput } from "../../src/drivers/gpio/gpio.js";
import type { FakeClock } from "./fake-clock.js";

export class FakeGpioChip implements GpioChip {
  readonly name = "fake";
  /** Every level written per pin, with the monotonic time. */
  readonly writes = new Map<number, Array<{ atMs: number; high: boolean }>>();
  private readonly claimed = new Set<number>();
  private readonly inputs = new Map<number, { level: boolean; changes: Array<(h: boolean) => void>; faults: Array<(d: string) => void> }>();

  constructor(private readonly clock: FakeClock) {}

  output(pin: number, initialHigh: boolean): Promise<GpioOutput> {
    const busy = this.claim(pin);
    if (busy !== null) return Promise.reject(busy);
    const log = this.writes.get(pin) ?? [];
    this.writes.set(pin, log);
    log.push({ atMs: this.clock.monoMs(), high: initialHigh });
    let released = false;
    return Promise.resolve({
      write: (high: boolean) => {
        if (released) throw new GpioError("E_GPIO_IO", `GPIO${pin} written after release`);
        log.push({ atMs: this.clock.monoMs(), high });
      },
      release: () => {
        released = true;
        this.claimed.delete(pin);
        return Promise.resolve();
      },
    });
  }

  input(pin: number, _bias: Bias): Promise<GpioInput> {
    const busy = this.claim(pin);
    if (busy !== null) return Promise.reject(busy);
    const line = this.inputs.get(pin) ?? { level: false, changes: [], faults: [] };
    this.inputs.set(pin, line);
    return Promise.resolve({
      get level() {
        return line.level;
      },
      onChange: (fn) => line.changes.push(fn),
      onFault: (fn) => line.faults.push(fn),
      release: () => {
        line.changes = [];
        line.faults = [];
        this.claimed.delete(pin);
        return Promise.resolve();
      },
    });
  }

  /** The wire on an input pin moves (bounces included: call it as often as the contact chatters). */
  setInput(pin: number, high: boolean): void {
    const line = this.inputs.get(pin) ?? { level: false, changes: [], faults: [] };
    this.inputs.set(pin, line);
    if (line.level === high) return;
    line.level = high;
    for (const fn of line.changes) fn(high);
  }

  /** The input's watcher dies. */
  failInput(pin: number, detail: string): void {
    for (const fn of this.inputs.get(pin)?.faults ?? []) fn(detail);
  }

  /** The level an output pin shows now. */
  level(pin: number): boolean | undefined {
    return this.writes.get(pin)?.at(-1)?.high;
  }

  /**
   * The output's levels as [ms since `fromMs`, level], the last write at each instant only and repeats folded: the
   * pattern a person sees.
   */
  timeline(pin: number, fromMs: number): Array<[number, boolean]> {
    const out: Array<[number, boolean]> = [];
    for (const w of this.writes.get(pin) ?? []) {
      if (w.atMs < fromMs) continue;
      const t = w.atMs - fromMs;
      if (out.at(-1)?.[0] === t) out.pop();
      if (out.at(-1)?.[1] === w.high) continue;
      out.push([t, w.high]);
    }
    return out;
  }

  private claim(pin: number): GpioError | null {
    if (this.claimed.has(pin)) return new GpioError("E_GPIO_BUSY", `GPIO${pin} is already claimed`);
    this.claimed.add(pin);
    return null;
  }
}
