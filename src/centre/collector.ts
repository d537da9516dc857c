/**
 * The entry collector: subscribes to the fleet's `entry`, `state` and `event` topics through an MQTT 5 shared
 * subscription (`$share/<group>/…`, so several collectors split one fleet), commits what arrives in batches,
 * and acknowledges each message only after its batch is committed. With a persistent session (clean start off,
 * a long session expiry) and QoS 1, a collector that crashes loses nothing: the broker keeps what was not
 * acknowledged and delivers it again; the store de-duplicates entries by `id`.
 *
 * Batching is group commit, double-buffered: the first message schedules a commit after `lingerMs` (0: as soon
 * as the packets already read from the socket are handled); up to two batches commit at once, and while both
 * are in flight the next gathers, up to `batchMax`. PUBACKs still go out strictly in arrival order, each only
 * once the batch holding its message committed: a batch that commits before an earlier one waits for it.
 * Intake slows rather than stalls: the broker stops sending once `receiveMaximum` messages are unacknowledged
 * (MQTT 5 Receive Maximum), and if more than `maxHeld` are held anyway (a broker ignoring it, QoS 0), the socket
 * is not read until half of them are committed, so memory stays bounded and the event loop free.
 *
 * Nothing from the network is trusted: payloads are parsed strictly, the topic's site and device are the
 * identity (a payload naming another is refused), and a message that cannot be stored goes to the `rejected`
 * table and is acknowledged, so one bad message never blocks the others. When the database refuses a row of a
 * batch for its content, the batch is split until the row is alone; only a failing store is retried.
 *
 * Constructors do no I/O; `start()` connects, `stop()` flushes, acknowledges and disconnects.
 */
import { hostname } from "node:os";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import { parseEntryMessage, type EntryMessage } from "../contract/entry.js";
import { DEFAULT_ROOT, isValidSegment, parseDeviceTopic } from "../contract/topics.js";
import { DeferredAcks, type Received } from "./deferred-acks.js";
import { parseEventMessage, parseStateMessage } from "./device-messages.js";
import { entryTsMs } from "./entry-row.js";
import type { DeviceEvent, DeviceState, EntryStore, IngestResult, RejectedMessage } from "./entry-store.js";
import { errorCode, REJECTED_PAYLOAD_BYTES } from "./row-refused.js";

export interface CollectorOptions {
  readonly store: EntryStore;
  readonly url: string;
  readonly logger: Logger;
  /** Shared subscription group (default `collectors`). */
  readonly group?: string;
  /** Stable client id: the broker keeps the session under it (default from host name and group). */
  readonly clientId?: string;
  readonly root?: string;
  readonly username?: string;
  readonly password?: string;
  /** Most messages in one transaction (default 1000). */
  readonly batchMax?: number;
  /** How long a batch waits for more messages before it commits (default 0: no added wait). */
  readonly lingerMs?: number;
  /** Most unacknowledged messages the broker may send us (MQTT 5 Receive Maximum, default 4000). */
  readonly receiveMaximum?: number;
  /**
   * Most messages held (received, not yet acknowledged) before the collector stops reading the socket (default
   * twice `receiveMaximum`); reading resumes once half of them are committed and acknowledged.
   */
  readonly maxHeld?: number;
  /** How long the broker keeps the session while we are away (default 7 days). */
  readonly sessionExpirySeconds?: number;
  /**
   * Largest packet the broker may send us (MQTT 5 Maximum Packet Size, default 2 MiB): with `receiveMaximum`
   * it bounds the memory a flood of huge messages could take. The broker discards bigger ones for us.
   */
  readonly maximumPacketSize?: number;
  /** Purge entries and events older than this many days, at start and then hourly. */
  readonly retentionDays?: number;
  /** Wall clock (UTC epoch ms), injectable for tests. */
  readonly now?: () => number;
  /** How often the counts (stored, duplicate, rejected) are logged (default 60 s; 0: only at stop). */
  readonly statsIntervalMs?: number;
  /**
   * Raise the `no_entries` alarm when gates are online but no entry arrived for this long (default 15 min;
   * 0: never). Checked every `silenceCheckMs` (default a tenth of it, at most a minute).
   */
  readonly silenceAlarmMs?: number;
  readonly silenceCheckMs?: number;
  /** Longest wait between retries of a failing store (default 5 s). */
  readonly maxBackoffMs?: number;
  /**
   * Take-over (docs/centre.md "Collectors that cover for each other"): asked before every connection, also
   * reconnections. False means this process no longer holds the lease on `clientId` (collector-lease.ts), and
   * connecting would take the session from whoever does: the collector gives the connection up instead and
   * calls `onFenced`. Without it, mqtt.js reconnects by itself, as before.
   */
  readonly mayConnect?: () => boolean;
  readonly onFenced?: () => void;
  /** False: take a session over as it is, subscribing to nothing (session-adoption.ts). Default true. */
  readonly subscribe?: boolean;
  /** Sees every message first; true: the caller takes it (not stored, not acknowledged). */
  readonly intercept?: (m: Received) => boolean;
}

export interface CollectorStats {
  /** Messages received (all topics). */
  received: number;
  /** Entries stored that were new. */
  entriesNew: number;
  /** Entries received again (redeliveries, retries of the gate's outbox). */
  entriesDuplicate: number;
  states: number;
  events: number;
  /** Messages set aside in the `rejected` table (unreadable, against the contract, refused by the database). */
  rejected: number;
  /** Rejected messages that could not even be written to `rejected` (logged, acknowledged). */
  dropped: number;
  /** Batches split because the database refused a row's content. */
  splits: number;
  /** Subscriptions made (one per CONNACK). */
  subscribes: number;
  batches: number;
  /** Largest batch committed. */
  maxBatch: number;
  /** Commits that failed and were retried. */
  commitErrors: number;
  acked: number;
  /** Receipt time minus `ts` of the last entry committed, in ms (how far behind the fleet the centre is). */
  lagMs: number;
  /** UTC epoch ms when the last entry was committed (0: none yet). */
  lastEntryMs: number;
  /** 1 while the `no_entries` alarm is raised. */
  silenceAlarm: 0 | 1;
  /** Times reading the socket was paused because more than `maxHeld` messages were held. */
  pauses: number;
  /** Messages received and not yet acknowledged (or let go), now. */
  held: number;
  /** Most messages held at once so far. */
  heldPeak: number;
}

export function defaultClientId(group: string): string {
  const host = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 40);
  return `qrgate-collector-${host}-${group}`;
}

export function sharedTopics(group: string, root: string): string[] {
  return ["entry", "state", "event"].map((kind) => `$share/${group}/${root}/+/+/${kind}`);
}

/** One received message, read: what it will be stored as. */
type Item =
  | { readonly m: Received; readonly kind: "entry"; readonly value: EntryMessage }
  | { readonly m: Received; readonly kind: "state"; readonly value: DeviceState }
  | { readonly m: Received; readonly kind: "event"; readonly value: DeviceEvent }
  | { readonly m: Received; readonly kind: "rejected"; readonly value: RejectedMessage };

/** One batch being committed; `state` says how its commit ended. */
interface Flight {
  readonly batch: readonly Received[];
  state: "running" | "committed" | "failed";
}

/** Batches committing at once: one in flight while the next commits. */
const MAX_IN_FLIGHT = 2;
const HOUR_MS = 3_600_000;
const DB_REFUSED = "refused by the database";
const DAY_MS = 86_400_000;

export class Collector {
  readonly group: string;
  readonly clientId: string;
  readonly root: string;
  readonly stats: CollectorStats = {
    received: 0,
    entriesNew: 0,
    entriesDuplicate: 0,
    states: 0,
    events: 0,
    rejected: 0,
    dropped: 0,
    splits: 0,
    subscribes: 0,
    batches: 0,
    maxBatch: 0,
    commitErrors: 0,
    acked: 0,
    lagMs: 0,
    lastEntryMs: 0,
    silenceAlarm: 0,
    pauses: 0,
    held: 0,
    heldPeak: 0,
  };

  private readonly log: Logger;
  private readonly batchMax: number;
  private readonly lingerMs: number;
  private readonly now: () => number;
  private client: MqttClient | null = null;
  private acks: DeferredAcks | null = null;
  private readonly maxHeld: number;
  private readonly receiveMaximum: number;
  private pending: Received[] = [];
  /** Batches committing or committed but waiting for an earlier one, in arrival order. */
  private flights: Flight[] = [];
  /** A batch was given up (stopping while the store failed): nothing after it may be acknowledged. */
  private ackHalted = false;
  private idleWaiters: (() => void)[] = [];
  /** The socket we paused (more than `maxHeld` held), null while reading. */
  private pausedStream: NodeJS.ReadableStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private purgeTimer: NodeJS.Timeout | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  /** Since when the collector has been waiting for an entry (start, or the last entry). */
  private quietSinceMs = 0;
  private checkingSilence = false;
  private stopping = false;
  private readonly wakers = new Set<() => void>();
  private present = false;

  constructor(private readonly opts: CollectorOptions) {
    this.group = opts.group ?? "collectors";
    this.clientId = opts.clientId ?? defaultClientId(this.group);
    this.root = opts.root ?? DEFAULT_ROOT;
    this.batchMax = opts.batchMax ?? 1000;
    this.lingerMs = opts.lingerMs ?? 0;
    this.receiveMaximum = opts.receiveMaximum ?? 4000;
    this.maxHeld = opts.maxHeld ?? 2 * this.receiveMaximum;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ module: "collector" });
  }

  /** Migrates the store, connects and subscribes; resolves once the subscription is in place. */
  async start(): Promise<void> {
    // Before anything else: the acknowledgement trick must still work with the mqtt.js installed.
    await DeferredAcks.selfTest();
    await this.opts.store.migrate();
    if (this.opts.retentionDays !== undefined) {
      await this.purge();
      this.purgeTimer = setInterval(() => void this.purge(), HOUR_MS);
      this.purgeTimer.unref();
    }
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: this.clientId,
      clean: false,
      manualConnect: true,
      // We subscribe ourselves on every CONNACK (below); mqtt.js's own resubscribe skips a present session.
      resubscribe: false,
      // With a lease to respect, we reconnect ourselves, asking `mayConnect` first (`reconnectGated`).
      reconnectPeriod: this.opts.mayConnect === undefined ? 1000 : 0,
      connectTimeout: 10_000,
      properties: {
        sessionExpiryInterval: this.opts.sessionExpirySeconds ?? 7 * 24 * 3600,
        receiveMaximum: this.receiveMaximum,
        maximumPacketSize: this.opts.maximumPacketSize ?? 2 * 1024 * 1024,
      },
      ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
      ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
      // mqtt.js formats a debug line per packet and more: measurable at 20k messages/s. We log what matters.
      log: () => undefined,
    };
    const client = mqtt.connect(this.opts.url, options);
    DeferredAcks.assertSupported(client);
    const acks = new DeferredAcks(client);
    acks.install((m) => this.onMessage(m));
    this.client = client;
    this.acks = acks;

    // Subscribe on every CONNACK, also when the broker says it kept our session: Mosquitto 2.0 does not restore
    // shared subscriptions from its persistence file, so after a broker restart the session is "present" but
    // subscribed to nothing, and every entry would go to nobody. Subscribing again is idempotent (MQTT 5 §3.8.4).
    const subscribed = new Promise<void>((resolve, reject) => {
      let first = true;
      client.on("connect", (connack) => {
        acks.connected();
        this.watchStream(client);
        this.present = connack.sessionPresent;
        this.log.info({ sessionPresent: connack.sessionPresent, clientId: this.clientId }, "connected");
        const isFirst = first;
        first = false;
        (this.opts.subscribe === false ? Promise.resolve() : this.subscribe(client)).then(
          () => {
            if (isFirst) resolve();
          },
          (e: unknown) => {
            if (isFirst) reject(e instanceof Error ? e : new Error(String(e)));
          },
        );
      });
    });
    // While the broker stays unreachable, mqtt.js retries every second: say it once at warn, then at debug.
    let quiet = false;
    client.on("connect", () => (quiet = false));
    client.on("error", (e) => {
      if (quiet) this.log.debug({ err: e.message }, "mqtt error");
      else this.log.warn({ err: e.message }, "mqtt error");
      quiet = true;
    });
    client.on("close", () => this.log.debug("connection closed"));
    client.on("offline", () => this.log.warn("broker unreachable, retrying"));
    if (this.opts.mayConnect !== undefined) this.reconnectGated(client, this.opts.mayConnect);
    else client.connect();
    await subscribed;

    this.quietSinceMs = this.now();
    const statsEvery = this.opts.statsIntervalMs ?? 60_000;
    if (statsEvery > 0) {
      this.statsTimer = setInterval(() => this.logCounts("counts"), statsEvery);
      this.statsTimer.unref();
    }
    const silenceMs = this.opts.silenceAlarmMs ?? 15 * 60_000;
    if (silenceMs > 0) {
      const every = this.opts.silenceCheckMs ?? Math.min(60_000, Math.max(10, Math.floor(silenceMs / 10)));
      this.silenceTimer = setInterval(() => void this.checkSilence(silenceMs), every);
      this.silenceTimer.unref();
    }
  }

  /**
   * Connects now and after every close, one second apart, while `mayConnect` says the session is ours; once it
   * says no, gives the connection up (fenced). The check is synchronous and right before CONNECT, so a process
   * that was frozen past its lease never reaches the broker with the client id of a session taken over.
   */
  private reconnectGated(client: MqttClient, mayConnect: () => boolean): void {
    const attempt = (): void => {
      if (this.stopping || client.connected) return;
      if (!mayConnect()) {
        this.fence();
        return;
      }
      client.connect();
    };
    let wasConnected = false;
    client.on("connect", () => (wasConnected = true));
    client.on("close", () => {
      if (this.stopping) return;
      if (wasConnected) this.log.warn("broker unreachable, retrying");
      wasConnected = false;
      setTimeout(attempt, 1000).unref();
    });
    attempt();
  }

  /** The lease on our client id is gone: let the connection go at once, without DISCONNECT, and say so. */
  private fence(): void {
    if (this.stopping) return;
    this.log.warn({ clientId: this.clientId }, "fenced: the session is no longer ours, connection given up");
    void this.abandon();
    this.opts.onFenced?.();
  }

  /**
   * Stops at once without acknowledging anything more and without DISCONNECT (the broker keeps the session as
   * it is, for whoever holds its lease now). A commit under way still finishes: storing is idempotent.
   */
  async abandon(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of [this.purgeTimer, this.statsTimer, this.silenceTimer, this.timer]) if (t !== null) clearTimeout(t);
    this.timer = null;
    this.wakeAll();
    this.client?.end(true);
    await this.idle();
  }

  /** Resolves once every message received so far is committed and acknowledged (or we are stopping). */
  async settled(): Promise<void> {
    while (!this.stopping) {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.pump();
      if (this.flights.length === 0) return;
      await this.idle();
    }
  }

  /** Whether the broker kept a session for us at the last CONNACK. */
  get sessionPresent(): boolean {
    return this.present;
  }

  /** The MQTT connection, for session-adoption.ts (unsubscribe, marker); null before `start`. */
  get mqttClient(): MqttClient | null {
    return this.client;
  }

  /**
   * Flushes what was received, acknowledges it, and disconnects. Messages arriving from now on are not acknowledged.
   * `sessionExpiryInterval` in DISCONNECT replaces the session's (0: the broker forgets the session now).
   */
  async stop(disconnect?: { readonly sessionExpiryInterval: number }): Promise<void> {
    if (this.stopping) {
      await this.idle(); // abandoned (or stopped) already: the connection is gone
      return;
    }
    this.stopping = true;
    for (const t of [this.purgeTimer, this.statsTimer, this.silenceTimer]) if (t !== null) clearInterval(t);
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.wakeAll();
    this.pump();
    await this.idle();
    this.resumeReading();
    const client = this.client;
    if (client !== null) {
      await (disconnect === undefined ? client.endAsync(false) : client.endAsync(false, { reasonCode: 0, properties: { ...disconnect } }));
    }
    this.logCounts("counts");
    this.log.info({ ...this.stats }, "stopped");
  }

  private subscribe(client: MqttClient): Promise<void> {
    const topics = sharedTopics(this.group, this.root);
    return new Promise<void>((resolve, reject) => {
      client.subscribe(topics, { qos: 1 }, (err, granted) => {
        const refused = (granted ?? []).filter((g) => g.qos > 2);
        if (err !== null && err !== undefined) {
          this.log.error({ err: err.message }, "subscribe failed");
          reject(err);
        } else if (refused.length > 0) {
          const e = new Error(`broker refused ${refused.map((g) => `${g.topic} (code ${g.qos})`).join(", ")}`);
          this.log.error({ err: e.message }, "subscribe refused");
          reject(e);
        } else {
          this.stats.subscribes += 1;
          this.log.info({ topics }, "subscribed");
          resolve();
        }
      });
    });
  }

  /** The counts an admin watches: in the log every `statsIntervalMs` and at stop. */
  private logCounts(msg: string): void {
    const s = this.stats;
    this.log.info(
      {
        stored: s.entriesNew,
        duplicate: s.entriesDuplicate,
        rejected: s.rejected,
        states: s.states,
        events: s.events,
        commitErrors: s.commitErrors,
      },
      msg,
    );
  }

  /** Gates online (by their last state) but no entry for `silenceMs`: the subscription or the fleet is broken. */
  private async checkSilence(silenceMs: number): Promise<void> {
    if (this.checkingSilence || this.stopping || this.stats.silenceAlarm === 1) return;
    if (this.now() - this.quietSinceMs < silenceMs) return;
    this.checkingSilence = true;
    try {
      const online = (await this.opts.store.deviceStates()).filter((d) => d.state === "online");
      const quietMs = this.now() - this.quietSinceMs;
      if (online.length > 0 && quietMs >= silenceMs && this.stats.silenceAlarm === 0) {
        this.stats.silenceAlarm = 1;
        this.log.warn({ alarm: "no_entries", onlineDevices: online.length, quietForMs: quietMs }, "no entries while gates are online");
      }
    } catch (e) {
      this.log.debug({ code: errorCode(e) }, "silence check failed");
    } finally {
      this.checkingSilence = false;
    }
  }

  private onMessage(m: Received): void {
    if (this.opts.intercept?.(m) === true) return;
    if (this.stopping) return; // not acknowledged: the broker delivers it again next session
    this.stats.received += 1;
    this.stats.held += 1;
    if (this.stats.held > this.stats.heldPeak) this.stats.heldPeak = this.stats.held;
    this.pending.push(m);
    if (this.stats.held > this.maxHeld) this.pauseReading();
    if (this.flights.length >= MAX_IN_FLIGHT) return; // the next batch gathers; a finished commit starts it
    if (this.pending.length >= this.batchMax) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.pump();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, this.lingerMs);
    }
  }

  /** Starts commits of what is pending while fewer than `MAX_IN_FLIGHT` are in flight. */
  private pump(): void {
    while (this.flights.length < MAX_IN_FLIGHT && this.pending.length > 0) {
      const batch = this.pending.length <= this.batchMax ? this.pending : this.pending.slice(0, this.batchMax);
      this.pending = batch === this.pending ? [] : this.pending.slice(this.batchMax);
      const flight: Flight = { batch, state: "running" };
      this.flights.push(flight);
      this.commit(batch).then(
        (ok) => this.landed(flight, ok),
        (e: unknown) => {
          // commit() handles store failures itself; this is a bug of ours: nothing of it is acknowledged.
          this.log.error({ err: e instanceof Error ? e.message : String(e) }, "commit failed unexpectedly");
          this.landed(flight, false);
        },
      );
    }
    if (this.flights.length === 0 && this.pending.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * A batch's commit ended. Acknowledges, in arrival order, every batch at the head of the line that is done: a
   * batch that committed while an earlier one is still running waits for it. After a batch given up (stopping
   * while the store failed), nothing more is acknowledged: the broker delivers it all again next session.
   */
  private landed(flight: Flight, ok: boolean): void {
    flight.state = ok ? "committed" : "failed";
    while (this.flights.length > 0 && this.flights[0]!.state !== "running") {
      const done = this.flights.shift()!;
      if (done.state === "failed") this.ackHalted = true;
      else if (!this.ackHalted && this.acks !== null) this.stats.acked += this.acks.ackAll(done.batch);
      this.stats.held -= done.batch.length;
    }
    if (this.stats.held <= this.maxHeld / 2) this.resumeReading();
    this.pump();
  }

  /** Resolves once nothing is pending or in flight. */
  private idle(): Promise<void> {
    if (this.flights.length === 0 && (this.pending.length === 0 || this.stopping)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wakeAll(): void {
    for (const w of [...this.wakers]) w();
  }

  /**
   * Stops reading the socket: packets already read are still handled, nothing more is. Node's `pipe` (mqtt.js
   * pipes the socket into its parser) resumes a source on the parser's `drain`; `watchStream` pauses it again.
   */
  private pauseReading(): void {
    const stream = this.client?.stream;
    if (this.pausedStream !== null || stream === undefined) return;
    this.pausedStream = stream;
    stream.pause();
    this.stats.pauses += 1;
    this.log.debug({ held: this.stats.held, maxHeld: this.maxHeld }, "intake paused");
  }

  private resumeReading(): void {
    const stream = this.pausedStream;
    if (stream === null) return;
    this.pausedStream = null;
    stream.resume();
    this.log.debug({ held: this.stats.held }, "intake resumed");
  }

  /** On every new connection's stream: keep it paused while we want it paused, whoever resumes it. */
  private watchStream(client: MqttClient): void {
    const stream = client.stream;
    if (this.pausedStream !== null && this.pausedStream !== stream) this.pausedStream = null; // that socket is gone
    stream.on("resume", () => {
      if (this.pausedStream === stream) stream.pause();
    });
    if (this.stats.held > this.maxHeld) this.pauseReading();
  }

  /** Commits one batch (split where the database refuses a row); false if stopped before it succeeded. */
  private async commit(batch: readonly Received[]): Promise<boolean> {
    if (!(await this.commitItems(this.read(batch)))) return false;
    this.stats.batches += 1;
    this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
    this.log.debug({ messages: batch.length }, "batch committed");
    return true;
  }

  /**
   * Commits `items` in one transaction, retrying with capped back-off while the store fails. When the database
   * refuses a row for its content, the items are split in halves and each half committed on its own, down to
   * the refused row, which goes to `rejected` instead: the good rows are kept, and nothing waits on a row that
   * can never be stored. False if stopped before it succeeded.
   */
  private async commitItems(items: readonly Item[]): Promise<boolean> {
    if (items.length === 0) return true;
    let backoffMs = 250;
    const maxBackoffMs = this.opts.maxBackoffMs ?? 5000;
    for (;;) {
      try {
        const r = await this.opts.store.commitBatch({
          entries: items.flatMap((x) => (x.kind === "entry" ? [x.value] : [])),
          states: items.flatMap((x) => (x.kind === "state" ? [x.value] : [])),
          events: items.flatMap((x) => (x.kind === "event" ? [x.value] : [])),
          rejected: items.flatMap((x) => (x.kind === "rejected" ? [x.value] : [])),
          receivedMs: this.now(),
          // Every entry item was made by parseEntryMessage (read(), below) and is never changed.
          entriesParsed: true,
        });
        this.account(items, r);
        return true;
      } catch (e) {
        if (this.opts.store.isDataError(e)) return this.split(items, e);
        this.stats.commitErrors += 1;
        this.log.error(
          { err: e instanceof Error ? e.message : String(e), code: errorCode(e), retryInMs: backoffMs },
          "commit failed",
        );
        if (this.stopping) return false;
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(t);
            this.wakers.delete(wake);
            resolve();
          };
          const t = setTimeout(wake, backoffMs);
          this.wakers.add(wake);
        });
        if (this.stopping) return false;
        backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
      }
    }
  }

  private async split(items: readonly Item[], e: unknown): Promise<boolean> {
    if (items.length > 1) {
      this.stats.splits += 1;
      const mid = Math.ceil(items.length / 2);
      return (await this.commitItems(items.slice(0, mid))) && this.commitItems(items.slice(mid));
    }
    const only = items[0]!;
    if (only.kind === "rejected") {
      // Even the record of a refusal was refused: say so and let it go rather than block everything after it.
      this.stats.dropped += 1;
      this.log.error({ topic: only.m.topic, code: errorCode(e) }, "rejected message could not be recorded");
      return true;
    }
    // The database's words may quote the value (personal data): the log gets the code, the table the message.
    const msg = e instanceof Error ? e.message : String(e);
    this.log.warn({ topic: only.m.topic, code: errorCode(e) }, "row refused by the database");
    return this.commitItems([this.rejectedItem(only.m, `${DB_REFUSED} (${errorCode(e)}): ${msg}`.slice(0, 500))]);
  }

  private account(items: readonly Item[], r: IngestResult): void {
    let entries = 0;
    let lastEntry: EntryMessage | null = null;
    for (const x of items) {
      if (x.kind === "entry") {
        entries += 1;
        lastEntry = x.value;
      } else if (x.kind === "state") this.stats.states += 1;
      else if (x.kind === "event") this.stats.events += 1;
      else {
        this.stats.rejected += 1;
        // Our own reasons never quote the value; a database's might, so only its code is logged.
        const reason = x.value.reason;
        const shown = reason.startsWith(DB_REFUSED) ? reason.slice(0, reason.indexOf(":")) : reason;
        this.log.warn({ topic: x.value.topic, reason: shown }, "message rejected");
      }
    }
    this.stats.entriesNew += r.newEntries;
    this.stats.entriesDuplicate += entries - r.newEntries;
    if (lastEntry !== null) {
      const nowMs = this.now();
      this.stats.lagMs = Math.max(0, nowMs - entryTsMs(lastEntry));
      this.stats.lastEntryMs = nowMs;
      this.quietSinceMs = nowMs;
      if (this.stats.silenceAlarm === 1) {
        this.stats.silenceAlarm = 0;
        this.log.info({ alarm: "no_entries" }, "entries arriving again");
      }
    }
  }

  private rejectedItem(m: Received, reason: string): Item {
    return {
      m,
      kind: "rejected",
      value: {
        topic: m.topic.slice(0, 1024),
        reason,
        payload: m.payload.subarray(0, REJECTED_PAYLOAD_BYTES),
        receivedMs: this.now(),
      },
    };
  }

  /** Reads each message strictly; what cannot be read becomes a `rejected` item with the reason. */
  private read(batch: readonly Received[]): Item[] {
    const receivedMs = this.now();
    return batch.map((m): Item => {
      const where = parseDeviceTopic(this.root, m.topic);
      if (where === null || !isValidSegment(where.site) || !isValidSegment(where.device)) {
        return this.rejectedItem(m, "topic is not <root>/<site>/<device>/<kind>");
      }
      switch (where.kind) {
        case "entry": {
          const r = parseEntryMessage(m.payload, where, receivedMs);
          return r.ok ? { m, kind: "entry", value: r.value } : this.rejectedItem(m, r.error);
        }
        case "state": {
          const r = parseStateMessage(where.site, where.device, m.payload, receivedMs);
          return r.ok ? { m, kind: "state", value: r.value } : this.rejectedItem(m, r.error);
        }
        case "event": {
          const r = parseEventMessage(where.site, where.device, m.payload, receivedMs);
          return r.ok ? { m, kind: "event", value: r.value } : this.rejectedItem(m, r.error);
        }
        default:
          return this.rejectedItem(m, "unexpected topic kind");
      }
    });
  }

  private async purge(): Promise<void> {
    const days = this.opts.retentionDays;
    if (days === undefined) return;
    const beforeMs = this.now() - days * DAY_MS;
    try {
      const r = await this.opts.store.purge(beforeMs);
      this.log.info({ ...r, before: new Date(beforeMs).toISOString(), retentionDays: days }, "purged");
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, "purge failed");
    }
  }
}
