/**
 * Watches the leases of our collector group and takes over the session of every collector whose lease expired
 * (it died, was SIGKILLed, frozen, or cut off from the store for longer than the TTL): claims the lease
 * atomically (only one survivor wins), then runs a `SessionAdoption` that drains the session and retires it, and
 * releases the lease. The gone collector, back, waits for that release and then starts a fresh session.
 *
 * Checked every `checkEveryMs` (default the TTL / 5, 2 s): a death is taken over at most TTL + check after the
 * last renewal (about 12 s with the defaults), well inside the 30 s of issue 16.
 */
import type { Logger } from "pino";
import type { LeaseKeeper } from "./collector-lease.js";
import type { CollectorLease } from "./entry-store.js";
import { errorCode } from "./row-refused.js";
import { SessionAdoption, type AdoptionOptions, type AdoptionResult } from "./session-adoption.js";

export interface TakeoverWatchOptions {
  readonly keeper: LeaseKeeper;
  /** Our own client id: never taken over by ourselves. */
  readonly self: string;
  readonly logger: Logger;
  readonly checkEveryMs?: number;
  /** What an adoption needs besides the session's name and lease (store, broker, group, root, login). */
  readonly adoption: Omit<AdoptionOptions, "name" | "holds" | "logger">;
}

export interface TakeoverStats {
  /** Sessions of gone collectors taken over, and of those, retired cleanly. */
  takenOver: number;
  retired: number;
  /** Adoptions that failed or lost their lease half-way (the session is taken over again later). */
  failed: number;
  /** Entries stored from taken-over sessions. */
  entriesNew: number;
}

export class TakeoverWatch {
  readonly stats: TakeoverStats = { takenOver: 0, retired: 0, failed: 0, entriesNew: 0 };
  private readonly log: Logger;
  private readonly running = new Map<string, SessionAdoption>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private stopped = false;

  constructor(private readonly opts: TakeoverWatchOptions) {
    this.log = opts.logger.child({ module: "takeover" });
  }

  start(): void {
    const every = this.opts.checkEveryMs ?? this.opts.keeper.renewEveryMs;
    this.timer = setInterval(() => void this.check(), every);
    this.timer.unref();
    void this.check();
  }

  /**
   * Stops watching and gives up adoptions under way: their sessions stay with the broker, and their leases, no
   * longer renewed, expire, so that a collector still running takes them over again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(
      [...this.running].map(async ([name, a]) => {
        this.opts.keeper.forget(name);
        await a.abandon();
      }),
    );
  }

  /** Sessions being taken over now. */
  get adopting(): string[] {
    return [...this.running.keys()];
  }

  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const leases = await this.opts.keeper.leases();
      for (const lease of leases) {
        if (lease.name === this.opts.self || !lease.expired || this.running.has(lease.name) || this.stopped) continue;
        await this.takeOver(lease);
      }
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e), code: errorCode(e) }, "lease check failed");
    } finally {
      this.checking = false;
    }
  }

  private async takeOver(lease: CollectorLease): Promise<void> {
    const keeper = this.opts.keeper;
    const name = lease.name;
    let adoption: SessionAdoption | null = null;
    const won = await keeper.acquire(name, (why) => {
      this.log.warn({ session: name, why }, "lost the lease of a session being taken over: giving it up");
      void adoption?.abandon();
    });
    if (!won) return; // another collector was quicker
    this.stats.takenOver += 1;
    this.log.warn(
      { session: name, lastHolder: lease.holder, lastRenewed: new Date(lease.renewedMs).toISOString(), expired: new Date(lease.expiresMs).toISOString() },
      "collector gone (lease expired): taking over its session",
    );
    adoption = new SessionAdoption({ ...this.opts.adoption, name, holds: () => keeper.holds(name), logger: this.opts.logger });
    this.running.set(name, adoption);
    const a = adoption;
    // In the background: a long drain must not hold up the watch of the other leases.
    void a
      .run()
      .then(
        async (r: AdoptionResult) => {
          this.stats.retired += 1;
          this.stats.entriesNew += r.entriesNew;
          await keeper.release(name);
        },
        (e: unknown) => {
          this.stats.failed += 1;
          // Not released: the lease expires, and the session (still with the broker) is taken over again.
          keeper.forget(name);
          if (!this.stopped) this.log.error({ session: name, err: e instanceof Error ? e.message : String(e), code: errorCode(e) }, "take-over failed; the session will be taken over again");
        },
      )
      .finally(() => {
        if (this.running.get(name) === a) this.running.delete(name);
      });
  }
}
