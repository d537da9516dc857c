/**
 * `qrgate provision --check`: logs in to the broker with the new credentials and publishes the device's `state`, so a
 * technician learns at the door, not at the first scan, whether the password_file and acl_file lines are in place.
 * MQTT 5, because only MQTT 5 brokers say "not authorized" for a refused publish (3.1.1 acknowledges it silently).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IClientOptions, MqttClient } from "mqtt";
import { deviceTopic } from "../contract/topics.js";
import type { DeviceStateMessage } from "../uplink/device-state.js";
import { QRGATE_VERSION } from "../version.js";

export interface BrokerLogin {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** A check that failed, with a message for the technician. */
export class BrokerCheckError extends Error {
  readonly code = "E_BROKER_CHECK";
  constructor(message: string) {
    super(message);
    this.name = "BrokerCheckError";
  }
}

function publish(client: MqttClient, topic: string, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.publish(topic, payload, { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve()));
  });
}

/**
 * Connects as the device and publishes `state` (retained): `online`, then `offline`, since the gate itself is not
 * running yet. Resolves with the topic; rejects with a BrokerCheckError saying what failed.
 */
export async function checkBrokerLogin(login: BrokerLogin, id: { root: string; site: string; device: string }, timeoutMs = 10_000): Promise<string> {
  const mqtt = await import("mqtt");
  const topic = deviceTopic(id.root, id.site, id.device, "state");
  const opts: IClientOptions = {
    protocolVersion: 5,
    clientId: `qrgate-${id.site}-${id.device}-check`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(login.username !== undefined ? { username: login.username } : {}),
    ...(login.password !== undefined ? { password: login.password } : {}),
    ...(login.ca !== undefined ? { ca: readFileSync(login.ca) } : {}),
    ...(login.cert !== undefined ? { cert: readFileSync(login.cert) } : {}),
    ...(login.key !== undefined ? { key: readFileSync(login.key) } : {}),
  };
  const client = mqtt.connect(login.url, opts);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BrokerCheckError(`no answer from ${login.url} within ${timeoutMs} ms`)), timeoutMs);
      client.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      client.once("error", (e) => {
        clearTimeout(timer);
        reject(new BrokerCheckError(`the broker at ${login.url} refused the connection: ${e.message}`));
      });
    });
    const bootId = randomUUID();
    const state = (s: DeviceStateMessage["state"]): string =>
      JSON.stringify({ state: s, ts: new Date().toISOString(), version: QRGATE_VERSION, bootId } satisfies DeviceStateMessage);
    try {
      await publish(client, topic, state("online"));
      await publish(client, topic, state("offline"));
    } catch (e) {
      throw new BrokerCheckError(`logged in, but the broker refused a publish on ${topic}: ${(e as Error).message} (is the acl_file block in place?)`);
    }
    return topic;
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}
