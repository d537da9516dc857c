/**
 * The entry collector: subscribes to the fleet's `entry`, `state` and `event` topics through an MQTT 5 shared
 * subscription (`$share/<group>/…`, so several collectors split one fleet), commits what arrives in batches,
 * and acknowledges each message only after its batch is committed. With a persistent session (clean start off,
 * a long session expiry) and QoS 1, a collector that crashes loses nothing: the broker keeps what was not
 * acknowledged and delivers it again; the store de-duplicates entries by `id`.
 *
 * Batching is group commit: the first message schedules a flush after `lingerMs` (0: as soon as the packets
 * already read from the socket are handled); while a commit is in progress the next batch gathers, up to
 * `batchMax`. The broker stops sending once `receiveMaximum` messages are unacknowledged, which bounds memory.
 *
 * Constructors do no I/O; `start()` connects, `stop()` flushes, acknowledges and disconnects.
 */
import { hostname } from "node:os";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import { parseEntryMessage, type EntryMessage } from "../contract/entry.js";
import { DEFAULT_ROOT, parseDeviceTopic } from "../contract/topics.js";
import { DeferredAcks, type Received } from "./deferred-acks.js";
import { parseEventMessage, parseStateMessage } from "./device-messages.js";
import type { DeviceEvent, DeviceState, EntryStore } from "./entry-store.js";

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
  /** Most unacknowledged messages the broker may send us (MQTT 5 Receive Maximum, default 2000). */
  readonly receiveMaximum?: number;
  /** How long the broker keeps the session while we are away (default 7 days). */
  readonly sessionExpirySeconds?: number;
  /** Purge entries and events older than this many days, at start and then hourly. */
  readonly retentionDays?: number;
  /** Wall clock (UTC epoch ms), injectable for tests. */
  readonly now?: () => number;
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
  /** Payloads that could not be read: logged, acknowledged and dropped. */
  rejected: number;
  batches: number;
  /** Largest batch committed. */
  maxBatch: number;
  /** Commits that failed and were retried. */
  commitErrors: number;
  acked: number;
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

interface Parsed {
  entries: EntryMessage[];
  states: DeviceState[];
  events: DeviceEvent[];
}

const HOUR_MS = 3_600_000;
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
    batches: 0,
    maxBatch: 0,
    commitErrors: 0,
    acked: 0,
  };

  private readonly log: Logger;
  private readonly batchMax: number;
  private readonly lingerMs: number;
  private readonly now: () => number;
  private client: MqttClient | null = null;
  private acks: DeferredAcks | null = null;
  private pending: Received[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private purgeTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;

  constructor(private readonly opts: CollectorOptions) {
    this.group = opts.group ?? "collectors";
    this.clientId = opts.clientId ?? defaultClientId(this.group);
    this.root = opts.root ?? DEFAULT_ROOT;
    this.batchMax = opts.batchMax ?? 1000;
    this.lingerMs = opts.lingerMs ?? 0;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ module: "collector" });
  }

  /** Migrates the store, connects and subscribes; resolves once the subscription is in place. */
  async start(): Promise<void> {
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
      resubscribe: false,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      properties: {
        sessionExpiryInterval: this.opts.sessionExpirySeconds ?? 7 * 24 * 3600,
        receiveMaximum: this.opts.receiveMaximum ?? 2000,
      },
      ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
      ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
    };
    const client = mqtt.connect(this.opts.url, options);
    DeferredAcks.assertSupported(client);
    const acks = new DeferredAcks(client);
    acks.install((m) => this.onMessage(m));
    this.client = client;
    this.acks = acks;

    const subscribed = new Promise<void>((resolve, reject) => {
      client.on("connect", (connack) => {
        acks.connected();
        this.log.info({ sessionPresent: connack.sessionPresent, clientId: this.clientId }, "connected");
        // The broker keeps the subscription in the session; subscribe when it has none (first start, expiry).
        if (connack.sessionPresent === true) {
          resolve();
          return;
        }
        client.subscribe(sharedTopics(this.group, this.root), { qos: 1 }, (err, granted) => {
          const refused = (granted ?? []).filter((g) => g.qos > 2);
          if (err !== null && err !== undefined) {
            this.log.error({ err: err.message }, "subscribe failed");
            reject(err);
          } else if (refused.length > 0) {
            const e = new Error(`broker refused ${refused.map((g) => `${g.topic} (code ${g.qos})`).join(", ")}`);
            this.log.error({ err: e.message }, "subscribe refused");
            reject(e);
          } else {
            this.log.info({ topics: sharedTopics(this.group, this.root) }, "subscribed");
            resolve();
          }
        });
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
    client.connect();
    await subscribed;
  }

  /** Flushes what was received, acknowledges it, and disconnects. Messages arriving from now on are not acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.purgeTimer !== null) clearInterval(this.purgeTimer);
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.wake?.();
    this.startFlush();
    await this.flushing;
    const client = this.client;
    if (client !== null) await client.endAsync(false);
    this.log.info({ ...this.stats }, "stopped");
  }

  private onMessage(m: Received): void {
    if (this.stopping) return; // not acknowledged: the broker delivers it again next session
    this.stats.received += 1;
    this.pending.push(m);
    if (this.flushing !== null) return; // the running flush loop takes it
    if (this.pending.length >= this.batchMax) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.startFlush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.startFlush();
      }, this.lingerMs);
    }
  }

  /** Starts the flush loop unless it runs already; it runs until nothing is pending. */
  private startFlush(): void {
    if (this.flushing !== null || this.pending.length === 0) return;
    const loop = this.flushLoop().finally(() => {
      if (this.flushing === loop) this.flushing = null;
    });
    this.flushing = loop;
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.batchMax);
      const committed = await this.commit(batch);
      if (!committed) return; // stopping while the store was failing: nothing acknowledged
      for (const m of batch) if (this.acks?.ack(m) === true) this.stats.acked += 1;
    }
  }

  /** Commits one batch, retrying with back-off while the store fails; false if stopped before it succeeded. */
  private async commit(batch: readonly Received[]): Promise<boolean> {
    const parsed = this.parse(batch);
    const size = parsed.entries.length + parsed.states.length + parsed.events.length;
    let backoffMs = 250;
    for (;;) {
      try {
        if (size > 0) {
          const r = await this.opts.store.commitBatch({ ...parsed, receivedMs: this.now() });
          this.stats.entriesNew += r.newEntries;
          this.stats.entriesDuplicate += parsed.entries.length - r.newEntries;
        }
        this.stats.batches += 1;
        this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
        this.log.debug({ messages: batch.length, entries: parsed.entries.length }, "batch committed");
        return true;
      } catch (e) {
        this.stats.commitErrors += 1;
        this.log.error({ err: e instanceof Error ? e.message : String(e), retryInMs: backoffMs }, "commit failed");
        if (this.stopping) return false;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoffMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
        if (this.stopping) return false;
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  private parse(batch: readonly Received[]): Parsed {
    const out: Parsed = { entries: [], states: [], events: [] };
    const receivedMs = this.now();
    for (const m of batch) {
      const where = parseDeviceTopic(this.root, m.topic);
      if (where === null) {
        this.reject(m.topic, "topic is not <root>/<site>/<device>/<kind>");
        continue;
      }
      switch (where.kind) {
        case "entry": {
          const r = parseEntryMessage(m.payload);
          if (!r.ok) {
            this.reject(m.topic, r.error);
          } else {
            if (r.value.site !== where.site || r.value.device !== where.device) {
              // Stored as sent (losing an entry is worse), but a broker ACL should make this impossible.
              this.log.warn({ topic: m.topic, site: r.value.site, device: r.value.device }, "entry names another device than its topic");
            }
            out.entries.push(r.value);
          }
          break;
        }
        case "state": {
          const r = parseStateMessage(where.site, where.device, m.payload, receivedMs);
          if (r.ok) {
            out.states.push(r.value);
            this.stats.states += 1;
          } else this.reject(m.topic, r.error);
          break;
        }
        case "event": {
          const r = parseEventMessage(where.site, where.device, m.payload, receivedMs);
          if (r.ok) {
            out.events.push(r.value);
            this.stats.events += 1;
          } else this.reject(m.topic, r.error);
          break;
        }
        default:
          this.reject(m.topic, `unexpected kind '${where.kind}'`);
      }
    }
    return out;
  }

  /** A payload we cannot read is acknowledged and dropped: redelivering it would never make it readable. */
  private reject(topic: string, reason: string): void {
    this.stats.rejected += 1;
    this.log.warn({ topic, reason }, "message rejected");
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
