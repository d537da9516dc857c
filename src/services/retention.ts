import type { Logger } from "pino";
import type { Clock } from "../drivers/clock.js";
import type { Journal } from "../store/journal.js";
import type { UsedPasses } from "../store/used-passes.js";

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** Entries older than this many days (by the trusted wall clock) are deleted. */
  readonly retentionDays: number;
  /** The most the entry cutoff may move forward in one run: one day's worth of entries. */
  readonly maxStepMs?: number;
}

/**
 * The device's retention purge, run periodically. The cutoff comes from the wall clock, which can be wrong (a
 * clock set to 2040 makes every entry look years old), so the purge is bounded whatever the clock says:
 * - an entry whose message still waits in the outbox is never deleted (Journal.purgeOlderThan);
 * - the entry cutoff moves forward at most one day's worth per run (from the oldest entry at the first run, then
 *   from the last cutoff), so a jump costs at most a day of journal per run while the `clock_jump` alarm is out;
 * - a used pass is forgotten only once as much monotonic (real) time has passed as its expiry is beyond the
 *   earliest expiry seen at the first run: a clock that jumps forward cannot empty the replay set, and a pass
 *   remembered before the jump is still refused when the clock comes back.
 */
export class Retention {
  private entryCutoffMs: number | null = null;
  private passAnchor: { readonly cutoffS: number; readonly mono: number } | null = null;

  constructor(
    private readonly journal: Pick<Journal, "purgeOlderThan" | "oldestTsMs">,
    private readonly usedPasses: Pick<UsedPasses, "purgeExpired" | "oldestExpiryS">,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: RetentionOptions,
  ) {}

  /** One purge; returns what it deleted and the cutoffs it used. */
  run(): { entries: number; usedPasses: number; entryCutoffMs: number; passCutoffS: number } {
    const now = this.clock.wallMs();
    const mono = this.clock.monoMs();
    const step = this.opts.maxStepMs ?? DAY_MS;

    const target = now - this.opts.retentionDays * DAY_MS;
    const from = this.entryCutoffMs ?? this.journal.oldestTsMs() ?? target;
    const entryCutoffMs = Math.min(target, from + step);
    this.entryCutoffMs = entryCutoffMs;
    const entries = this.journal.purgeOlderThan(entryCutoffMs);

    const nowS = Math.floor(now / 1000);
    this.passAnchor ??= { cutoffS: Math.min(nowS, this.usedPasses.oldestExpiryS() ?? nowS), mono };
    const passCutoffS = Math.min(nowS, this.passAnchor.cutoffS + Math.floor((mono - this.passAnchor.mono) / 1000));
    const usedPasses = this.usedPasses.purgeExpired(passCutoffS);

    if (entries > 0 || usedPasses > 0) this.log.info({ entries, usedPasses }, "retention purge");
    if (entryCutoffMs < target) {
      this.log.warn(
        { cutoff: new Date(entryCutoffMs).toISOString(), wanted: new Date(target).toISOString() },
        "retention purge held back to one day's worth per run (the clock jumped, or a backlog)",
      );
    }
    return { entries, usedPasses, entryCutoffMs, passCutoffS };
  }
}
