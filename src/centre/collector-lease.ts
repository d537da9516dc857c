/**
 * The leases one collector process holds in the store (`collector_leases`): its own, on the MQTT session of its
 * client id, and those of collectors whose sessions it is taking over (takeover-watch.ts). A lease says who may
 * connect with a client id; connecting with it without the lease would take the session from whoever holds it.
 *
 * Renewed every `ttlMs / 5`. Whether a lease is still ours is answered without I/O (`holds`): from this process's
 * monotonic clock, the lease holds until the start of its last successful renewal plus `ttlMs` minus a margin
 * (`ttlMs / 5`). The store sets the expiry from its own clock at the renewal, which is after that start, so the
 * process always gives a lease up before anyone else may take it. A process that was frozen (SIGSTOP, a VM
 * paused, a long stall) sees on waking that its leases lapsed, and lets them go (fencing) rather than connect
 * with a client id another collector now holds. A renewal the store refuses (the lease was taken) does the same.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { CollectorLease, EntryStore } from "./entry-store.js";
import { errorCode } from "./row-refused.js";

export interface LeaseKeeperOptions {
  readonly store: EntryStore;
  readonly group: string;
  /** This collector's name (its own client id): the `holder` of every lease it takes. */
  readonly holder: string;
  /** How long a lease holds without renewal (default 10 s). */
  readonly ttlMs?: number;
  readonly logger: Logger;
  /** Monotonic clock in ms (injectable for tests). */
  readonly monotonicMs?: () => number;
}

/** Why a lease was lost: `taken` by another collector, or `lapsed` before we could renew it. */
export type LeaseLoss = "taken" | "lapsed" | "released";

interface Held {
  /** Monotonic ms until which the lease is ours for sure. */
  validUntil: number;
  renewing: boolean;
  readonly onLost: (why: LeaseLoss) => void;
}

export const DEFAULT_LEASE_TTL_MS = 10_000;

export class LeaseKeeper {
  /** This process: a restart of the same collector is another instance, and fences this one. */
  readonly instance = randomUUID();
  readonly ttlMs: number;
  private readonly held = new Map<string, Held>();
  private readonly log: Logger;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: LeaseKeeperOptions) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.log = opts.logger.child({ module: "lease" });
    this.clock = opts.monotonicMs ?? (() => performance.now());
  }

  get renewEveryMs(): number {
    return Math.max(50, Math.floor(this.ttlMs / 5));
  }

  private get marginMs(): number {
    return Math.floor(this.ttlMs / 5);
  }

  /** True while the lease on `name` is ours for sure; synchronous, so it can gate a CONNECT. */
  holds(name: string): boolean {
    const h = this.held.get(name);
    return h !== undefined && this.clock() < h.validUntil;
  }

  /** Names of the leases held. */
  get names(): string[] {
    return [...this.held.keys()];
  }

  /** One attempt to take the lease on `name` (ours, or a gone collector's); `onLost` runs once if it goes. */
  async acquire(name: string, onLost: (why: LeaseLoss) => void): Promise<boolean> {
    const started = this.clock();
    const ok = await this.opts.store.acquireLease({
      name,
      group: this.opts.group,
      holder: this.opts.holder,
      instance: this.instance,
      ttlMs: this.ttlMs,
    });
    if (!ok) return false;
    this.held.set(name, { validUntil: started + this.ttlMs - this.marginMs, renewing: false, onLost });
    this.ensureTimer();
    return true;
  }

  /**
   * Takes our own lease, waiting while another collector holds it (it is taking over our previous session: once
   * it has retired it, we start a fresh one). Resolves false if `cancelled` resolves first.
   */
  async acquireOwn(onLost: (why: LeaseLoss) => void, cancelled: Promise<unknown>): Promise<boolean> {
    const name = this.opts.holder;
    let stop = false;
    void cancelled.then(() => (stop = true));
    let said = "";
    while (!stop) {
      try {
        if (await this.acquire(name, onLost)) return true;
        const lease = (await this.opts.store.leases(this.opts.group)).find((l) => l.name === name);
        const by = lease?.holder ?? "";
        if (by !== said) {
          this.log.warn({ name, heldBy: by, expiresMs: lease?.expiresMs }, "our lease is held by another collector (taking over our last session): waiting");
          said = by;
        }
      } catch (e) {
        this.log.warn({ err: e instanceof Error ? e.message : String(e), code: errorCode(e) }, "cannot take our lease yet");
      }
      await Promise.race([new Promise((r) => setTimeout(r, this.renewEveryMs)), cancelled]);
    }
    return false;
  }

  /** Gives the lease on `name` up (the row goes); its `onLost` is not called. */
  async release(name: string): Promise<void> {
    if (!this.held.delete(name)) return;
    try {
      await this.opts.store.releaseLease(name, this.instance);
    } catch (e) {
      // It expires by itself.
      this.log.warn({ name, err: e instanceof Error ? e.message : String(e) }, "lease release failed");
    }
  }

  /** Stops renewing the lease on `name` without giving it up: it expires by itself, and is taken over again then. */
  forget(name: string): void {
    this.held.delete(name);
  }

  /** Stops renewing; the leases still held expire by themselves (a restart within the TTL takes its own back). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.held.clear();
  }

  /** The group's leases as the store sees them. */
  leases(): Promise<CollectorLease[]> {
    return this.opts.store.leases(this.opts.group);
  }

  private ensureTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), this.renewEveryMs);
    this.timer.unref();
  }

  private lose(name: string, h: Held, why: LeaseLoss): void {
    if (this.held.get(name) !== h) return;
    this.held.delete(name);
    this.log.warn({ name, why }, "lease lost");
    h.onLost(why);
  }

  private tick(): void {
    for (const [name, h] of [...this.held]) {
      // Lapsed first, without I/O: a frozen process learns it here before anything else it does on waking.
      if (this.clock() >= h.validUntil) {
        this.lose(name, h, "lapsed");
        continue;
      }
      if (h.renewing) continue;
      h.renewing = true;
      const started = this.clock();
      this.opts.store.renewLease(name, this.instance, this.ttlMs).then(
        (ok) => {
          h.renewing = false;
          if (this.held.get(name) !== h) return;
          if (ok) h.validUntil = started + this.ttlMs - this.marginMs;
          else this.lose(name, h, "taken");
        },
        (e: unknown) => {
          h.renewing = false;
          // A failing store: try again next tick; the lease lapses if it keeps failing.
          this.log.warn({ name, err: e instanceof Error ? e.message : String(e), code: errorCode(e) }, "lease renewal failed");
        },
      );
    }
  }
}
