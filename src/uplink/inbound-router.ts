/**
 * Everything the gate receives over MQTT goes through here: one handler per topic filter, a size limit per
 * filter, and one message at a time. The router replaces the client's `handleMessage`, which MQTT.js awaits before
 * it reads the next packet (and before it sends the PUBACK): a handler that takes a while (applying a snapshot
 * chunk) holds the next message back in the socket instead of piling messages up in memory.
 *
 * A payload over its limit, or a handler that throws, is refused with a `sync_refused` event; it never stops the
 * client or the gate.
 */
import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { Refusals } from "./refusals.js";

/** What a handler learns of a message besides its topic and payload. */
export interface InboundMeta {
  /** True when the broker delivered a retained copy (on subscribing), not a live publish. */
  readonly retain: boolean;
}

export type InboundHandler = (topic: string, payload: Buffer, meta: InboundMeta) => void | Promise<void>;

/** Subscribing and handling, as the gate's feeds see it. */
export interface Inbound {
  /** Routes messages matching `filter` to `handler`; payloads above `maxBytes` are refused without calling it. */
  route(filter: string, maxBytes: number, handler: InboundHandler): void;
  /** Subscribes (QoS 1); kept across reconnects by the client. */
  subscribe(filter: string): void;
  unsubscribe(filter: string): void;
}

interface Route {
  readonly filter: string;
  readonly parts: readonly string[];
  readonly maxBytes: number;
  readonly handler: InboundHandler;
}

/** MQTT topic filter match (`+` one level, `#` the rest). */
export function topicMatches(parts: readonly string[], topic: string): boolean {
  const t = topic.split("/");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p === "#") return true;
    if (i >= t.length) return false;
    if (p !== "+" && p !== t[i]) return false;
  }
  return t.length === parts.length;
}

export class InboundRouter implements Inbound {
  private readonly routes: Route[] = [];
  private client: MqttClient | null = null;
  private readonly wanted = new Set<string>();
  private everConnected = false;
  private unacknowledged = 0;

  /** Subscriptions sent and not yet acknowledged (or failed): 0 once the broker has them all. */
  get pendingSubscriptions(): number {
    return this.unacknowledged;
  }

  constructor(
    private readonly refusals: Refusals,
    private readonly log: Logger,
  ) {}

  /** Takes over the client's incoming messages and subscribes on every connect. */
  attach(client: MqttClient): void {
    this.client = client;
    client.handleMessage = (packet, done) => {
      const topic = packet.topic;
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      this.dispatch(topic, payload, { retain: packet.retain }).then(
        () => done(),
        // dispatch never rejects; this is for the type checker's peace and a future mistake.
        () => done(),
      );
    };
    client.on("connect", () => this.onConnect());
    if (client.connected) this.onConnect();
  }

  /**
   * MQTT.js re-subscribes by itself on a reconnect, but not on the first connection: a subscription asked for
   * before it (the broker was down at start) would be recorded and never sent. So the first connection forces every
   * wanted filter; later ones send only what MQTT.js does not know (its `subscribe` skips what it will re-send).
   */
  private onConnect(): void {
    const first = !this.everConnected;
    this.everConnected = true;
    for (const f of this.wanted) this.sendSubscribe(f, first);
  }

  route(filter: string, maxBytes: number, handler: InboundHandler): void {
    this.routes.push({ filter, parts: filter.split("/"), maxBytes, handler });
  }

  subscribe(filter: string): void {
    this.wanted.add(filter);
    if (this.client?.connected === true) this.sendSubscribe(filter, false);
  }

  unsubscribe(filter: string): void {
    this.wanted.delete(filter);
    this.client?.unsubscribe(filter, (e) => {
      if (e) this.log.debug({ filter, err: e.message }, "unsubscribe failed");
    });
  }

  private sendSubscribe(filter: string, force: boolean): void {
    // `resubscribe: true` is MQTT.js's own flag for "send even if recorded" (it strips it before sending).
    const topics = force ? ({ [filter]: { qos: 1 }, resubscribe: true } as unknown as Record<string, { qos: 1 }>) : { [filter]: { qos: 1 as const } };
    const client = this.client;
    if (client === null) return;
    this.unacknowledged++;
    client.subscribe(topics, (e) => {
      this.unacknowledged--;
      if (e) this.log.warn({ filter, err: e.message }, "subscribe failed; the client retries on reconnect");
    });
  }

  /** Hands one message to its route; never throws. */
  async dispatch(topic: string, payload: Buffer, meta: InboundMeta): Promise<void> {
    const r = this.routes.find((x) => topicMatches(x.parts, topic));
    if (r === undefined) return;
    if (payload.length > r.maxBytes) {
      this.refusals.report("sync_refused", `oversize:${r.filter}`, `${topic}: payload of ${payload.length} bytes is over the ${r.maxBytes}-byte limit; ignored`);
      return;
    }
    try {
      await r.handler(topic, payload, meta);
    } catch (e) {
      this.refusals.report("sync_refused", `crash:${topic}`, `${topic}: could not be handled (${(e as Error).message})`);
    }
  }
}
