/**
 * Taking over the MQTT session of a collector that is gone (its lease expired and we took it, takeover-watch.ts),
 * then retiring that session so that its share of the fleet flows to the collectors still running.
 *
 * Why (docs/centre.md "Collectors that cover for each other"): Mosquitto keeps giving a shared subscription's
 * messages to a member whose session lives on while it is disconnected, and drops what a session held when it
 * expires (eclipse-mosquitto #2662). So nobody else can receive the dead collector's share until its session is
 * connected again, and letting the session expire would lose entries. We connect with its client id and clean
 * start off: the broker hands us its session, and sends what it kept (unacknowledged messages again, then the
 * queue). The same `Collector` pipeline stores them (idempotent by entry id) and acknowledges after commit. Then:
 *
 *  1. UNSUBSCRIBE the shared topics: from the UNSUBACK on, the broker gives this session nothing new; the rest of
 *     the group gets it.
 *  2. A drain marker: we subscribe this session to a topic of its own and publish one message to it. The broker
 *     queues a session's messages in order, so when the marker comes back, everything queued before it has been
 *     received. (If the broker refuses the marker, by ACL, we wait instead until nothing has come for `idleMs`.)
 *  3. Wait until everything received is committed and acknowledged, then DISCONNECT with session expiry 0: the
 *     broker forgets the session, holding nothing any more.
 *
 * The session keeps its long expiry until step 3: if we die half-way, nothing is lost; our lease on it lapses and
 * another collector takes it over again. A lease lost half-way (we were frozen) makes the connection go at once.
 */
import { randomUUID } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "pino";
import { Collector, sharedTopics, type CollectorOptions } from "./collector.js";
import type { EntryStore } from "./entry-store.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export interface AdoptionOptions {
  readonly store: EntryStore;
  readonly url: string;
  readonly logger: Logger;
  readonly group: string;
  readonly root: string;
  /** The gone collector's client id. */
  readonly name: string;
  /** Whether we still hold the lease on `name` (collector-lease.ts `holds`). */
  readonly holds: () => boolean;
  readonly username?: string;
  readonly password?: string;
  readonly batchMax?: number;
  readonly receiveMaximum?: number;
  /** With no marker back (refused), how long nothing must arrive before the session counts as drained (default 2 s). */
  readonly idleMs?: number;
  /** How long to wait for the marker before falling back to `idleMs` (default 60 s). */
  readonly markerTimeoutMs?: number;
  /** Extra collector settings (tests: `maxBackoffMs`). */
  readonly collector?: Partial<Pick<CollectorOptions, "lingerMs" | "maxBackoffMs" | "maximumPacketSize" | "sessionExpirySeconds">>;
}

export interface AdoptionResult {
  /** Whether the broker still had the session (false: it had expired or the broker lost it; nothing to drain). */
  readonly sessionPresent: boolean;
  /** Messages received on the session, entries newly stored, entries already stored. */
  readonly received: number;
  readonly entriesNew: number;
  readonly entriesDuplicate: number;
  /** How the end of the queue was known. */
  readonly drainedBy: "marker" | "idle";
  readonly tookMs: number;
}

/** The adoption stopped because our lease on the session went (we were frozen, or the store lost it). */
export class AdoptionFencedError extends Error {
  readonly code = "E_ADOPTION_FENCED";
  constructor(name: string) {
    super(`lost the lease on ${name} while taking its session over`);
    this.name = "AdoptionFencedError";
  }
}

export class SessionAdoption {
  private readonly collector: Collector;
  private readonly markerTopic: string;
  private readonly log: Logger;
  private lastMessageMs = 0;
  private markerSeen: (() => void) | null = null;
  private fenced: (() => void) | null = null;
  /** Set when `run` ends either way: the quiet watch stops. */
  private ended = false;
  private readonly fencedP: Promise<never>;

  constructor(private readonly opts: AdoptionOptions) {
    this.log = opts.logger.child({ module: "takeover", session: opts.name });
    // A topic of ours that no gate writes (sites are [a-z0-9-]); random, so no other session shares it.
    this.markerTopic = `${opts.root}/_collectors/drain/${randomUUID()}`;
    this.fencedP = new Promise<never>((_resolve, reject) => {
      this.fenced = () => reject(new AdoptionFencedError(opts.name));
    });
    this.fencedP.catch(() => undefined);
    this.collector = new Collector({
      store: opts.store,
      url: opts.url,
      logger: opts.logger.child({ session: opts.name }),
      group: opts.group,
      clientId: opts.name,
      root: opts.root,
      subscribe: false,
      mayConnect: opts.holds,
      onFenced: () => this.fenced?.(),
      intercept: (m) => {
        this.lastMessageMs = Date.now();
        if (m.topic !== this.markerTopic) return false;
        this.markerSeen?.();
        return true;
      },
      statsIntervalMs: 0,
      silenceAlarmMs: 0,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      ...(opts.batchMax !== undefined ? { batchMax: opts.batchMax } : {}),
      ...(opts.receiveMaximum !== undefined ? { receiveMaximum: opts.receiveMaximum } : {}),
      ...opts.collector,
    });
  }

  /** Connects as the gone collector, drains its session and retires it. Rejects with `AdoptionFencedError` if the lease goes. */
  async run(): Promise<AdoptionResult> {
    const t0 = Date.now();
    try {
      await Promise.race([this.collector.start(), this.fencedP]);
      const client = this.collector.mqttClient!;
      this.log.warn({ sessionPresent: this.collector.sessionPresent }, "took over the session of a gone collector: draining it");
      await Promise.race([client.unsubscribeAsync(sharedTopics(this.opts.group, this.opts.root)), this.fencedP]);
      await Promise.race([client.subscribeAsync(this.markerTopic, { qos: 1 }), this.fencedP]);
      const drainedBy = await Promise.race([this.awaitDrained(), this.fencedP]);
      await Promise.race([this.collector.settled(), this.fencedP]);
      // Everything received is committed, and nothing more comes: the broker may forget the session. DISCONNECT
      // with session expiry 0 says so, on the connection (back) up; mqtt.js's end() never calls back on a
      // connection lost meanwhile, hence the time limit.
      await Promise.race([this.connected(client), this.fencedP]);
      if (!this.opts.holds()) throw new AdoptionFencedError(this.opts.name);
      await Promise.race([this.collector.stop({ sessionExpiryInterval: 0 }), sleep(5000), this.fencedP]);
      // Whatever became of that DISCONNECT, a clean start under the client id leaves no session behind. It can
      // only discard acknowledgements lost with a connection, of messages already committed.
      await Promise.race([this.forgetSession(), this.fencedP]);
      const s = this.collector.stats;
      const result: AdoptionResult = {
        sessionPresent: this.collector.sessionPresent,
        received: s.received,
        entriesNew: s.entriesNew,
        entriesDuplicate: s.entriesDuplicate,
        drainedBy,
        tookMs: Date.now() - t0,
      };
      this.log.warn({ ...result }, "retired the session of a gone collector: its share goes to the others");
      return result;
    } catch (e) {
      await this.collector.abandon();
      throw e;
    } finally {
      this.ended = true;
    }
  }

  /**
   * Gives up at once (we are stopping, or the lease went): `run` rejects, and the session stays with the broker
   * for whoever takes it next.
   */
  abandon(): Promise<void> {
    this.fenced?.();
    return this.collector.abandon();
  }

  private connected(client: MqttClient): Promise<void> {
    return client.connected ? Promise.resolve() : new Promise((resolve) => client.once("connect", () => resolve()));
  }

  /** Connects once with the session's client id, clean start and expiry 0, and leaves: the broker keeps nothing. */
  private async forgetSession(): Promise<void> {
    if (!this.opts.holds()) throw new AdoptionFencedError(this.opts.name);
    const c = await mqtt.connectAsync(this.opts.url, {
      protocolVersion: 5,
      clientId: this.opts.name,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      properties: { sessionExpiryInterval: 0 },
      ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
      ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
    });
    await Promise.race([c.endAsync(), sleep(5000)]);
    c.end(true);
  }

  /** Resolves when the marker is back, or (marker refused or late) when nothing has come for `idleMs`. */
  private async awaitDrained(): Promise<"marker" | "idle"> {
    const client = this.collector.mqttClient!;
    const seen = new Promise<"marker">((resolve) => (this.markerSeen = () => resolve("marker")));
    let refused = false;
    client.publish(this.markerTopic, "", { qos: 1 }, (e) => {
      if (e !== undefined && e !== null) {
        refused = true;
        this.log.warn({ err: e.message }, "drain marker refused (the login may not write under <root>/_collectors/#): waiting for quiet instead");
      }
    });
    const idleMs = this.opts.idleMs ?? 2000;
    const deadline = Date.now() + (this.opts.markerTimeoutMs ?? 60_000);
    this.lastMessageMs = Date.now();
    let done = false;
    const quiet = (async (): Promise<"idle" | null> => {
      while (!done && !this.ended) {
        await new Promise((r) => setTimeout(r, Math.min(250, idleMs)));
        if ((refused || Date.now() > deadline) && Date.now() - this.lastMessageMs >= idleMs) return "idle";
      }
      return null;
    })();
    try {
      return (await Promise.race([seen, quiet])) ?? "marker";
    } finally {
      done = true;
    }
  }
}
