/**
 * A collector as one of a team (`qrgate collect --takeover on`, the default): it holds the lease on its own
 * session (collector-lease.ts) and watches the group's other leases to take over the session of one that is gone
 * (takeover-watch.ts, session-adoption.ts). If its own lease is lost (it was frozen, or cut off from the store,
 * for longer than the lease), another collector has its session: it stands down rather than take it back.
 */
import type { Logger } from "pino";
import { LeaseKeeper, type LeaseLoss } from "./collector-lease.js";
import type { EntryStore } from "./entry-store.js";
import { TakeoverWatch, type TakeoverWatchOptions } from "./takeover-watch.js";

export interface CollectorTeamOptions {
  readonly store: EntryStore;
  readonly logger: Logger;
  /** Our client id: the name of our lease. */
  readonly name: string;
  readonly group: string;
  readonly ttlMs?: number;
  readonly checkEveryMs?: number;
  readonly adoption: TakeoverWatchOptions["adoption"];
}

export class CollectorTeam {
  readonly keeper: LeaseKeeper;
  readonly watcher: TakeoverWatch;
  private readonly standDownListeners: ((why: LeaseLoss | "fenced") => void)[] = [];
  private stoodDown = false;

  constructor(private readonly opts: CollectorTeamOptions) {
    this.keeper = new LeaseKeeper({
      store: opts.store,
      group: opts.group,
      holder: opts.name,
      logger: opts.logger,
      ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
    });
    this.watcher = new TakeoverWatch({
      keeper: this.keeper,
      self: opts.name,
      logger: opts.logger,
      adoption: opts.adoption,
      ...(opts.checkEveryMs !== undefined ? { checkEveryMs: opts.checkEveryMs } : {}),
    });
  }

  /** Takes our own lease (waiting while another collector retires our last session); false if cancelled first. */
  async join(cancelled: Promise<unknown>): Promise<boolean> {
    await this.opts.store.migrate();
    return this.keeper.acquireOwn((why) => this.standDown(why), cancelled);
  }

  /** Whether we may connect with our client id now (synchronous: gates every CONNECT). */
  mayConnect(): boolean {
    return this.keeper.holds(this.opts.name);
  }

  /** Starts watching the others' leases. */
  watch(): void {
    this.watcher.start();
  }

  onStandDown(listener: (why: LeaseLoss | "fenced") => void): void {
    this.standDownListeners.push(listener);
  }

  /** Our lease is gone: tells the listeners, once. */
  standDown(why: LeaseLoss | "fenced"): void {
    if (this.stoodDown) return;
    this.stoodDown = true;
    for (const l of this.standDownListeners) l(why);
  }

  /** Stops the watch (adoptions under way are given up) and the renewals (our lease expires by itself). */
  async stop(): Promise<void> {
    await this.watcher.stop();
    this.keeper.stop();
  }
}
