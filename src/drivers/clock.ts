import { performance } from "node:perf_hooks";

/** Cancels a timer; calling it twice or after the timer fired does nothing. */
export type CancelTimer = () => void;

/**
 * Time for everything that is not pure. Pulses, budgets, dedup and backoff use `monoMs` and `setTimer`
 * (both monotonic); `wallMs` is for timestamps and expiry only.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock with an arbitrary origin; never goes backwards. */
  monoMs(): number;
  /** Milliseconds since the Unix epoch; may jump (NTP, no RTC on a Pi). */
  wallMs(): number;
  /** Runs `fn` once after `ms` of monotonic time. */
  setTimer(ms: number, fn: () => void): CancelTimer;
}

export const systemClock: Clock = {
  monoMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimer(ms, fn) {
    // libuv timers run on the monotonic clock, so a wall-clock step does not stretch a pulse.
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
