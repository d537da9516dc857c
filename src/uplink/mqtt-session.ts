import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { MqttClient, IClientOptions } from "mqtt";
import type { Config } from "../config/config.js";
import { ConfigError } from "../config/config-error.js";
import { checkTlsFiles } from "../config/tls-files.js";
import { deviceTopic } from "../contract/topics.js";
import type { DirectPublisher } from "../services/alarms.js";
import type { DeviceCondition } from "../services/device-faults.js";
import type { DeviceStateMessage } from "./device-state.js";

/** The `mqtt` section of the device configuration. */
export type MqttSettings = Config["mqtt"];

export interface DeviceIdentity {
  readonly site: string;
  readonly device: string;
  readonly version: string;
  readonly bootId: string;
}

/** Direct messages kept in memory while the broker is away, at most; the oldest goes first past it. */
const DIRECT_QUEUE_MAX = 100;

/**
 * The device's MQTT connection: announces its state (retained: `online`, or `degraded` with a reason) on every
 * connect with `offline` as its will, and reconnects by itself. Nothing on the scan path waits on it. Starting
 * never waits for the broker; stopping is bounded whatever the broker does.
 */
export class MqttSession implements DirectPublisher {
  private clientRef: MqttClient | null = null;
  private readonly connectListeners: Array<() => void> = [];
  private wasConnected = false;
  private condition: DeviceCondition = { state: "online", faults: [] };
  private readonly direct: Array<{ topic: string; payload: string; inflight: boolean }> = [];

  constructor(
    private readonly settings: MqttSettings,
    private readonly id: DeviceIdentity,
    private readonly wallMs: () => number,
    private readonly log: Logger,
  ) {}

  get client(): MqttClient | null {
    return this.clientRef;
  }

  get connected(): boolean {
    return this.clientRef?.connected === true;
  }

  onConnect(fn: () => void): void {
    this.connectListeners.push(fn);
  }

  private stateTopic(): string {
    return deviceTopic(this.settings.root, this.id.site, this.id.device, "state");
  }

  private statePayload(state: DeviceStateMessage["state"]): string {
    const c = this.condition;
    const msg: DeviceStateMessage = {
      state,
      ...(state === "degraded" && c.reason !== undefined ? { reason: c.reason, detail: c.detail ?? "" } : {}),
      ts: new Date(this.wallMs()).toISOString(),
      version: this.id.version,
      bootId: this.id.bootId,
    };
    return JSON.stringify(msg);
  }

  /** Sets what the retained state says while connected; published at once when connected, else on connect. */
  setCondition(c: DeviceCondition): void {
    this.condition = c;
    this.publishState();
  }

  private publishState(): void {
    const client = this.clientRef;
    if (client === null || !client.connected) return;
    client.publish(this.stateTopic(), this.statePayload(this.condition.state), { qos: 1, retain: true }, (e) => {
      if (e) this.log.warn({ err: e.message }, "could not publish the device state");
    });
  }

  /** QoS 1 from memory, not through the outbox: kept (bounded) until the broker acknowledges it. */
  publishDirect(topic: string, payload: string): void {
    if (this.direct.length >= DIRECT_QUEUE_MAX) {
      this.direct.shift();
      this.log.warn({ max: DIRECT_QUEUE_MAX }, "direct message queue full; dropped the oldest");
    }
    this.direct.push({ topic, payload, inflight: false });
    this.flushDirect();
  }

  private flushDirect(): void {
    const client = this.clientRef;
    if (client === null || !client.connected) return;
    for (const m of this.direct) {
      if (m.inflight) continue;
      m.inflight = true;
      client.publish(m.topic, m.payload, { qos: 1 }, (e) => {
        m.inflight = false;
        if (e) return; // stays queued for the next connect
        const i = this.direct.indexOf(m);
        if (i >= 0) this.direct.splice(i, 1);
      });
    }
  }

  async start(): Promise<void> {
    const mqtt = await import("mqtt");
    const s = this.settings;
    const file = (key: "ca" | "cert" | "key", path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (e) {
        throw new ConfigError(`mqtt.${key}`, [`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
      }
    };
    const tls = {
      ...(s.ca !== undefined ? { ca: file("ca", s.ca) } : {}),
      ...(s.cert !== undefined ? { cert: file("cert", s.cert) } : {}),
      ...(s.key !== undefined ? { key: file("key", s.key) } : {}),
    };
    checkTlsFiles(tls, s);
    const opts: IClientOptions = {
      protocolVersion: 5,
      clientId: `qrgate-${this.id.site}-${this.id.device}`,
      clean: true,
      keepalive: s.keepaliveS,
      reconnectPeriod: s.reconnectMs,
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic: this.stateTopic(), payload: Buffer.from(this.statePayload("offline")), qos: 1, retain: true },
      ...(s.username !== undefined ? { username: s.username } : {}),
      ...(s.password !== undefined ? { password: s.password } : {}),
      ...tls,
    };
    let client: MqttClient;
    try {
      client = mqtt.connect(s.url, opts);
    } catch (e) {
      throw new ConfigError("mqtt.url", [`${s.url}: ${(e as Error).message}`]);
    }
    this.clientRef = client;
    client.on("connect", () => {
      this.wasConnected = true;
      this.log.info({ url: s.url }, "mqtt connected");
      this.publishState();
      for (const m of this.direct) m.inflight = false;
      this.flushDirect();
      for (const fn of this.connectListeners) fn();
    });
    client.on("close", () => {
      if (this.wasConnected) this.log.warn({ url: s.url }, "mqtt connection lost; entries queue in the outbox");
      this.wasConnected = false;
    });
    client.on("error", (e) => this.log.warn({ err: e.message, url: s.url }, "mqtt error"));
  }

  /**
   * Says `offline` (retained) when connected, then disconnects. Bounded by `timeoutMs` in all: a broker that is
   * still connecting, or accepts TCP and never answers, is simply dropped.
   */
  async stop(timeoutMs = 800): Promise<void> {
    const client = this.clientRef;
    if (client === null) return;
    this.clientRef = null;
    if (!client.connected) {
      // Nothing to say goodbye to; ending gracefully would wait for a connection that may never come.
      client.end(true);
      return;
    }
    const half = timeoutMs / 2;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, half);
      client.publish(this.stateTopic(), this.statePayload("offline"), { qos: 1, retain: true }, () => {
        clearTimeout(t);
        resolve();
      });
    });
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        client.end(true);
        resolve();
      }, half);
      client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
