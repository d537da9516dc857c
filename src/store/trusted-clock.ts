import type { Clock } from "../drivers/clock.js";
import { SETTING, type Settings } from "./settings.js";

/** A step of the system's wall clock against the monotonic clock, larger than the clock's jump threshold. */
export interface ClockJump {
  /** Where the system clock should have been had it run on smoothly (or, at start, the stored trusted time). */
  readonly expectedMs: number;
  /** Where the system clock is. */
  readonly systemMs: number;
  /** What this clock says now (the trusted time used for entries and passes). */
  readonly trustedMs: number;
  /** `at-start`: found when the device started (the system clock behind the stored floor); else while running. */
  readonly when: "at-start" | "running";
}

/** Past this a step of the system clock is a jump worth an alarm (NTP's slews and small steps stay well below). */
export const DEFAULT_JUMP_THRESHOLD_MS = 5 * 60_000;

/**
 * A wall clock that never runs backwards past the last time this device trusted, even across reboots:
 * a Pi has no RTC and may boot at 1970 or at the last shutdown's time until NTP answers. Below the floor it
 * counts on from the floor with the monotonic clock.
 *
 * The floor is only as good as the time it was taken from, so this clock also watches the system clock: a step of
 * more than `jumpThresholdMs` either way is reported (`onJump`, and `takeJump` for a periodic check), and a floor
 * ahead of a system clock known to be synchronised can be dropped back to it (`dropFloorToSystem`), so one bad
 * sample (a `date -s 2040`, a bad GNSS fix) does not keep the device in the future for good.
 */
export class TrustedClock implements Clock {
  private floorWallMs: number;
  private floorMonoMs: number;
  /** The last look at the system clock, to tell a jump from time passing. */
  private lastSystemMs: number;
  private lastSystemMono: number;
  private pendingJump: ClockJump | null = null;
  private jumpListener: ((j: ClockJump) => void) | null = null;

  constructor(
    private readonly inner: Clock,
    private readonly settings: Settings,
    private readonly jumpThresholdMs = DEFAULT_JUMP_THRESHOLD_MS,
  ) {
    this.floorWallMs = settings.getNumber(SETTING.trustedWallMs) ?? 0;
    this.floorMonoMs = inner.monoMs();
    this.lastSystemMs = inner.wallMs();
    this.lastSystemMono = this.floorMonoMs;
    if (this.floorWallMs - this.lastSystemMs > jumpThresholdMs) {
      this.pendingJump = { expectedMs: this.floorWallMs, systemMs: this.lastSystemMs, trustedMs: this.floorWallMs, when: "at-start" };
    }
  }

  monoMs(): number {
    return this.inner.monoMs();
  }

  wallMs(): number {
    const system = this.inner.wallMs();
    const mono = this.inner.monoMs();
    const counted = this.floorWallMs + (mono - this.floorMonoMs);
    const trusted = system >= counted ? system : Math.floor(counted);
    this.watch(system, mono, trusted);
    return trusted;
  }

  setTimer(ms: number, fn: () => void): () => void {
    return this.inner.setTimer(ms, fn);
  }

  /**
   * Called with each jump as it is seen (from whatever read the clock first after it). The listener must return
   * at once and never throw; one listener.
   */
  onJump(fn: (j: ClockJump) => void): void {
    this.jumpListener = fn;
    if (this.pendingJump !== null) this.flushJump();
  }

  /** How far the trusted time is ahead of the system clock, ms (0 or less when it is not). */
  floorAheadMs(): number {
    const system = this.inner.wallMs();
    return this.floorWallMs + (this.inner.monoMs() - this.floorMonoMs) - system;
  }

  /**
   * Forgets a floor that is ahead of the system clock and follows the system clock again, persisting that; for
   * when the system says its clock is synchronised (the floor then came from a bad sample). Returns both times.
   */
  dropFloorToSystem(): { readonly fromMs: number; readonly toMs: number } {
    const mono = this.inner.monoMs();
    const fromMs = Math.floor(this.floorWallMs + (mono - this.floorMonoMs));
    const toMs = this.inner.wallMs();
    this.floorWallMs = toMs;
    this.floorMonoMs = mono;
    this.lastSystemMs = toMs;
    this.lastSystemMono = mono;
    this.settings.set(SETTING.trustedWallMs, toMs);
    return { fromMs, toMs };
  }

  /** Records the current time as trusted; called periodically and at stop, never on the scan path. */
  persist(): void {
    const now = this.wallMs();
    this.floorWallMs = now;
    this.floorMonoMs = this.inner.monoMs();
    this.settings.set(SETTING.trustedWallMs, now);
  }

  private watch(system: number, mono: number, trusted: number): void {
    const expected = this.lastSystemMs + (mono - this.lastSystemMono);
    this.lastSystemMs = system;
    this.lastSystemMono = mono;
    if (Math.abs(system - expected) <= this.jumpThresholdMs) return;
    this.pendingJump = { expectedMs: Math.floor(expected), systemMs: system, trustedMs: trusted, when: "running" };
    if (this.jumpListener !== null) this.flushJump();
  }

  private flushJump(): void {
    const j = this.pendingJump;
    this.pendingJump = null;
    if (j !== null) this.jumpListener?.(j);
  }
}
