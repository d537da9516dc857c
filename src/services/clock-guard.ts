import type { Logger } from "pino";
import type { TimeSyncProbe } from "../drivers/time-sync-probe.js";
import { DEFAULT_JUMP_THRESHOLD_MS, type ClockJump, type TrustedClock } from "../store/trusted-clock.js";
import type { AlarmSink } from "./alarms.js";

export interface ClockGuardOptions {
  /** A floor ahead of the system clock by more than this is a problem worth asking the time daemon about. */
  readonly jumpThresholdMs?: number;
}

/** An ISO time for a detail, or the raw number for a time no Date can hold. */
function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/** A duration in words: "14 years", "3 h 20 min", "7 min". */
export function span(ms: number): string {
  const a = Math.abs(ms);
  const min = Math.round(a / 60_000);
  if (a >= 365.25 * 86_400_000 * 2) return `${Math.round(a / (365.25 * 86_400_000))} years`;
  if (a >= 2 * 86_400_000) return `${Math.round(a / 86_400_000)} days`;
  if (min >= 60) return `${Math.floor(min / 60)} h ${min % 60} min`;
  return `${min} min`;
}

/** Words for a jump, with both times. */
export function describeJump(j: ClockJump): string {
  if (j.when === "at-start") {
    return `system clock ${iso(j.systemMs)} is ${span(j.expectedMs - j.systemMs)} behind the last trusted time ${iso(j.expectedMs)}: the gate counts on from the trusted time until the system clock catches up or is reported synchronised`;
  }
  const way = j.systemMs > j.expectedMs ? "forward" : "back";
  return `system clock jumped ${way} by ${span(j.systemMs - j.expectedMs)}: from ${iso(j.expectedMs)} to ${iso(j.systemMs)}; gate time now ${iso(j.trustedMs)}`;
}

/**
 * Watches the trusted clock: raises `clock_jump` for every step of the system clock beyond the threshold (either
 * way, with both times), persists the trusted time at each `tick` (the owner calls it periodically), and, when the trusted time is ahead of a
 * system clock that the time daemon reports as synchronised, drops it back to the system clock (and says so).
 * Without a synchronised clock the floor stands: that is what it is for (a Pi without RTC booting in 1970).
 */
export class ClockGuard {
  private running = false;
  private probing = false;
  private warnedUnsynced = false;

  constructor(
    private readonly clock: TrustedClock,
    private readonly probe: TimeSyncProbe,
    private readonly alarms: AlarmSink,
    private readonly log: Logger,
    private readonly opts: ClockGuardOptions = {},
  ) {}

  /** Starts watching; checks at once (a floor left ahead by the last run is dropped before the first scan if it can be). */
  start(): void {
    this.running = true;
    this.clock.onJump((j) => {
      if (this.running) this.alarms.raise("clock_jump", describeJump(j));
    });
    try {
      this.tick();
    } catch (e) {
      // A store that cannot be written (disk full) must not keep the gate from starting; the next tick retries.
      this.log.error({ err: (e as Error).message }, "could not record the trusted time");
    }
  }

  stop(): void {
    this.running = false;
  }

  /** Resolves once a floor check started by the last tick (if any) is done; for tests and orderly stops. */
  async settled(): Promise<void> {
    while (this.probing) await new Promise((r) => setImmediate(r));
  }

  /** Persists the trusted time and checks the floor; to be called periodically (every minute) while started. */
  tick(): void {
    if (!this.running) return;
    this.clock.persist();
    this.checkFloor();
  }

  private checkFloor(): void {
    const ahead = this.clock.floorAheadMs();
    if (ahead <= (this.opts.jumpThresholdMs ?? DEFAULT_JUMP_THRESHOLD_MS)) {
      this.warnedUnsynced = false;
      return;
    }
    if (this.probing) return;
    this.probing = true;
    void this.probe
      .isSynchronized()
      .then((synced) => {
        if (!this.running) return; // stopped meanwhile
        if (synced) {
          const { fromMs, toMs } = this.clock.dropFloorToSystem();
          this.warnedUnsynced = false;
          this.alarms.raise(
            "clock_jump",
            `trusted time ${iso(fromMs)} was ${span(fromMs - toMs)} ahead of the synchronised system clock ${iso(toMs)}: dropped back to the system clock`,
          );
        } else if (!this.warnedUnsynced) {
          this.warnedUnsynced = true;
          this.log.warn({ aheadMs: Math.round(ahead) }, "trusted time is ahead of the system clock, which is not reported synchronised: keeping the trusted time");
        }
      })
      .catch((e: unknown) => this.log.error({ err: (e as Error).message }, "time sync probe failed"))
      .finally(() => {
        this.probing = false;
      });
  }
}
