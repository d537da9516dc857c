/**
 * What the LEDs and the buzzer do, as data: distinct to a person at the door without reading a screen.
 * allow: green for 1.5 s and one short beep. deny: red for 1.5 s and two short beeps. fault: red blinking (250 ms
 * on, 750 ms off) for as long as the fault lasts, and one long beep when it starts.
 */

export interface IndicatorStep {
  /** From the start of the pattern. */
  readonly atMs: number;
  readonly green: boolean;
  readonly red: boolean;
  readonly buzzer: boolean;
}

export type IndicatorSignal = "allow" | "deny";

const step = (atMs: number, green: boolean, red: boolean, buzzer: boolean): IndicatorStep => ({ atMs, green, red, buzzer });

export const SIGNAL_PATTERNS: Record<IndicatorSignal, readonly IndicatorStep[]> = {
  allow: [step(0, true, false, true), step(120, true, false, false), step(1500, false, false, false)],
  deny: [step(0, false, true, true), step(100, false, true, false), step(200, false, true, true), step(300, false, true, false), step(1500, false, false, false)],
};

/** One period of the fault blink, repeated while a fault lasts. */
export const FAULT_PERIOD: readonly IndicatorStep[] = [step(0, false, true, false), step(250, false, false, false)];
export const FAULT_PERIOD_MS = 1000;
/** The long beep when a fault starts. */
export const FAULT_BEEP_MS = 800;
