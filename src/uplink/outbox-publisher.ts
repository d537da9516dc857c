import type { Logger } from "pino";
import type { MqttClient } from "mqtt";
import type { CancelTimer, Clock } from "../drivers/clock.js";
import type { OutboxRow } from "../store/outbox.js";

/** The part of the store the publisher needs. */
export interface OutboxPort {
  after(seq: number, limit: number): OutboxRow[];
  /** Removes acknowledged rows, all in one transaction. */
  removeMany(seqs: readonly number[]): void;
}

export interface PublisherOptions {
  /** Messages handed to the client and not yet acknowledged, at most. */
  readonly window: number;
  /**
   * Acknowledged rows are deleted in batches at most this long after the first acknowledgement (one disk sync per
   * batch, not per message), or sooner with a journal write (`takeAcked`). A crash in between re-sends them:
   * duplicates the collector drops, never a loss.
   */
  readonly ackFlushMs: number;
}

/**
 * Drains the outbox over MQTT at QoS 1, oldest first. A row leaves the outbox only after its PUBACK; a crash
 * between PUBACK and the batched delete re-sends it, which the collector's de-duplication by `id` absorbs.
 * Messages in flight when the connection drops stay with the MQTT client, which re-sends them on reconnect.
 */
export class OutboxPublisher {
  /** Highest sequence number handed to the client (rows above it have never been sent this run). */
  private cursor = 0;
  private readonly inflight = new Set<number>();
  private acked: number[] = [];
  private flushTimer: CancelTimer | null = null;
  private client: MqttClient | null = null;
  private draining = false;
  /** The outbox may hold rows above `cursor` that no read has returned yet (see `drain`). */
  private unseen = true;
  /** Rows the journal just wrote, next after `cursor`, to send without reading them back (see `written`). */
  private ready: OutboxRow[] = [];
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly outbox: OutboxPort,
    private readonly opts: PublisherOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  attach(client: MqttClient): void {
    this.client = client;
  }

  /** New rows may be waiting (after a journal write, or on connect). Cheap; never blocks on the network. */
  kick(): void {
    this.unseen = true;
    this.drain();
  }

  /**
   * Told of rows just committed to the outbox (the journal's, as `Outbox.after` would return them), newest of all:
   * when every row before them has been read, the next `nudge` (or `kick`) sends them from here without reading
   * them back; otherwise they wait for a read. Sends nothing itself: the gate commands the relay first.
   */
  written(rows: readonly OutboxRow[]): void {
    const first = rows[0];
    if (first === undefined || this.stopped) return;
    const last = this.ready[this.ready.length - 1]?.seq ?? this.cursor;
    if (this.unseen || first.seq <= last) this.unseen = true;
    else this.ready.push(...rows);
  }

  /** Sends what is waiting, reading the outbox only if it may hold rows not yet seen. */
  nudge(): void {
    this.drain();
  }

  /**
   * Hands over the rows acknowledged and not yet deleted, for the caller to delete in a transaction it commits anyway
   * (the journal's): then they need no commit of their own. Give them back with `untake` if that transaction fails.
   */
  takeAcked(): number[] {
    if (this.acked.length === 0) return [];
    const seqs = this.acked;
    this.acked = [];
    return seqs;
  }

  /** Rows handed over by `takeAcked` whose delete did not commit: they are deleted with the next flush. */
  untake(seqs: readonly number[]): void {
    if (seqs.length === 0 || this.stopped) return;
    this.acked.push(...seqs);
    this.flushTimer ??= this.clock.setTimer(this.opts.ackFlushMs, () => this.flushAcks());
  }

  /**
   * Sends what the window has room for, reading the outbox only while it may hold rows not yet seen: after a `kick`,
   * a rewind, or a read that filled the window. A PUBACK with nothing new written since costs no query.
   */
  private drain(): void {
    if (this.draining || this.stopped) return;
    const client = this.client;
    if (client === null || !client.connected) {
      // Rows handed over while away are read back on connect.
      if (this.ready.length > 0) this.forgetReady();
      return;
    }
    this.draining = true;
    try {
      for (let row = this.ready.shift(); row !== undefined; row = this.ready.shift()) {
        if (this.inflight.size >= this.opts.window) {
          this.ready.unshift(row);
          this.forgetReady();
          break;
        }
        this.cursor = row.seq;
        this.send(client, row);
      }
      let room = this.opts.window - this.inflight.size;
      while (room > 0 && this.unseen) {
        const rows = this.outbox.after(this.cursor, room);
        // Fewer rows than asked for: the read reached the end of the outbox, nothing more until the next kick.
        if (rows.length < room) this.unseen = false;
        for (const row of rows) {
          this.cursor = row.seq;
          // After a rewind, rows still with the client or acknowledged but not yet deleted are not sent again.
          if (this.inflight.has(row.seq) || this.acked.includes(row.seq)) continue;
          this.send(client, row);
          room--;
        }
      }
    } finally {
      this.draining = false;
    }
    this.notifyIfIdle();
  }

  private forgetReady(): void {
    this.ready = [];
    this.unseen = true;
  }

  private send(client: MqttClient, row: OutboxRow): void {
    this.inflight.add(row.seq);
    client.publish(row.topic, row.payload, { qos: row.qos }, (e) => {
      this.inflight.delete(row.seq);
      // A PUBACK that arrives while the gate shuts down may come after the store is closed: the row stays and
      // is re-sent next run, a duplicate the collector drops.
      if (this.stopped) return;
      if (e) {
        // The client gave the message up (we are stopping, or it was refused): send it again later.
        this.log.warn({ seq: row.seq, err: e.message }, "publish failed; will retry");
        this.cursor = Math.min(this.cursor, row.seq - 1);
        // Rows handed over by the journal follow the old cursor: they are read back in order instead.
        this.forgetReady();
      } else {
        this.acked.push(row.seq);
        this.flushTimer ??= this.clock.setTimer(this.opts.ackFlushMs, () => this.flushAcks());
      }
      // Room in the window again: rows left behind by a full window go now.
      this.drain();
    });
  }

  /** Deletes acknowledged rows now. */
  flushAcks(): void {
    this.flushTimer?.();
    this.flushTimer = null;
    if (this.acked.length === 0) return;
    const seqs = this.acked;
    this.acked = [];
    try {
      this.outbox.removeMany(seqs);
    } catch (e) {
      // Kept rows are only re-sent (duplicates the collector drops); nothing is lost.
      this.log.error({ err: (e as Error).message, rows: seqs.length }, "could not delete acknowledged outbox rows");
    }
    this.notifyIfIdle();
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  /** Resolves when nothing is in flight and the outbox has no unsent row (or after `timeoutMs`). */
  whenIdle(timeoutMs: number): Promise<boolean> {
    // Acknowledged rows wait for the next journal write or the flush timer; whoever waits for idle wants them gone.
    if (this.inflight.size === 0) this.flushAcksIfPending();
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const cancel = this.clock.setTimer(timeoutMs, () => resolve(false));
      this.idleWaiters.push(() => {
        cancel();
        resolve(true);
      });
    });
  }

  private isIdle(): boolean {
    return this.inflight.size === 0 && this.outbox.after(0, 1).length === 0;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || this.inflight.size > 0) return;
    this.flushAcksIfPending();
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private flushAcksIfPending(): void {
    if (this.acked.length > 0) this.flushAcks();
  }

  stop(): void {
    this.stopped = true;
    this.flushAcks();
  }
}
