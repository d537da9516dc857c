import type { Clock } from "../drivers/clock.js";
import { SETTING, type Settings } from "./settings.js";

/**
 * A wall clock that never runs backwards past the last time this device trusted, even across reboots:
 * a Pi has no RTC and may boot at 1970 or at the last shutdown's time until NTP answers. Below the floor it
 * counts on from the floor with the monotonic clock.
 */
export class TrustedClock implements Clock {
  private floorWallMs: number;
  private floorMonoMs: number;

  constructor(
    private readonly inner: Clock,
    private readonly settings: Settings,
  ) {
    this.floorWallMs = settings.getNumber(SETTING.trustedWallMs) ?? 0;
    this.floorMonoMs = inner.monoMs();
  }

  monoMs(): number {
    return this.inner.monoMs();
  }

  wallMs(): number {
    const system = this.inner.wallMs();
    const counted = this.floorWallMs + (this.inner.monoMs() - this.floorMonoMs);
    if (system >= counted) return system;
    return Math.floor(counted);
  }

  setTimer(ms: number, fn: () => void): () => void {
    return this.inner.setTimer(ms, fn);
  }

  /** Records the current time as trusted; called periodically and at stop, never on the scan path. */
  persist(): void {
    const now = this.wallMs();
    this.floorWallMs = now;
    this.floorMonoMs = this.inner.monoMs();
    this.settings.set(SETTING.trustedWallMs, now);
  }
}
