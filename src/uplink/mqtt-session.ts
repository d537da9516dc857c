import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { MqttClient, IClientOptions } from "mqtt";
import type { Config } from "../config/config.js";
import { deviceTopic } from "../contract/topics.js";
import type { DeviceStateMessage } from "./device-state.js";

/** The `mqtt` section of the device configuration. */
export type MqttSettings = Config["mqtt"];

export interface DeviceIdentity {
  readonly site: string;
  readonly device: string;
  readonly version: string;
  readonly bootId: string;
}

/**
 * The device's MQTT connection: announces `online` (retained) on every connect with `offline` as its will,
 * and reconnects by itself. Nothing on the scan path waits on it.
 */
export class MqttSession {
  private clientRef: MqttClient | null = null;
  private readonly connectListeners: Array<() => void> = [];
  private wasConnected = false;

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
    const msg: DeviceStateMessage = {
      state,
      ts: new Date(this.wallMs()).toISOString(),
      version: this.id.version,
      bootId: this.id.bootId,
    };
    return JSON.stringify(msg);
  }

  async start(): Promise<void> {
    const mqtt = await import("mqtt");
    const s = this.settings;
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
      ...(s.ca !== undefined ? { ca: readFileSync(s.ca) } : {}),
      ...(s.cert !== undefined ? { cert: readFileSync(s.cert) } : {}),
      ...(s.key !== undefined ? { key: readFileSync(s.key) } : {}),
    };
    const client = mqtt.connect(s.url, opts);
    this.clientRef = client;
    client.on("connect", () => {
      this.wasConnected = true;
      this.log.info({ url: s.url }, "mqtt connected");
      client.publish(this.stateTopic(), this.statePayload("online"), { qos: 1, retain: true }, (e) => {
        if (e) this.log.warn({ err: e.message }, "could not publish online state");
      });
      for (const fn of this.connectListeners) fn();
    });
    client.on("close", () => {
      if (this.wasConnected) this.log.warn({ url: s.url }, "mqtt connection lost; entries queue in the outbox");
      this.wasConnected = false;
    });
    client.on("error", (e) => this.log.warn({ err: e.message, url: s.url }, "mqtt error"));
  }

  /** Says `offline` (retained) when connected, then disconnects; bounded by `timeoutMs`. */
  async stop(timeoutMs = 2000): Promise<void> {
    const client = this.clientRef;
    if (client === null) return;
    this.clientRef = null;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        client.publish(this.stateTopic(), this.statePayload("offline"), { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        client.end(true);
        resolve();
      }, timeoutMs);
      client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
