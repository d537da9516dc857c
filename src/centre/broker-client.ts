/**
 * The short-lived MQTT client of the publishing verbs (`status publish`, `keys publish`, `cmd`): connect once,
 * read retained state, publish at QoS 1 with a bounded window, disconnect.
 */
import { randomUUID } from "node:crypto";
import type { MqttClient } from "mqtt";

/** The broker could not be reached or refused us; the message is one line for the user. */
export class BrokerError extends Error {
  readonly code = "E_BROKER";
  constructor(message: string) {
    super(message);
    this.name = "BrokerError";
  }
}

export async function connectBroker(url: string, clientTag: string, timeoutMs = 10_000): Promise<MqttClient> {
  const mqtt = await import("mqtt");
  let client: MqttClient;
  try {
    client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId: `qrgate-${clientTag}-${randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    });
  } catch (e) {
    throw new BrokerError(`cannot connect to ${url}: ${(e as Error).message}`);
  }
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string): void => {
      client.end(true);
      reject(new BrokerError(`cannot connect to ${url}: ${why}`));
    };
    client.once("connect", () => resolve());
    client.once("error", (e) => fail(e.message));
    client.once("close", () => fail("connection closed"));
  });
  client.removeAllListeners("error");
  client.removeAllListeners("close");
  client.on("error", () => undefined);
  return client;
}

export function publishAsync(client: MqttClient, topic: string, payload: string | Buffer, retain: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    client.publish(topic, payload, { qos: 1, retain }, (e) => (e ? reject(new BrokerError(`publish to ${topic} failed: ${e.message}`)) : resolve()));
  });
}

/** Publishes many messages at QoS 1 with at most `window` awaiting their PUBACK. */
export async function publishAll(
  client: MqttClient,
  messages: Iterable<{ topic: string; payload: string | Buffer; retain: boolean }>,
  window = 32,
): Promise<void> {
  const inflight = new Set<Promise<void>>();
  for (const m of messages) {
    const p: Promise<void> = publishAsync(client, m.topic, m.payload, m.retain).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

/**
 * Reads the retained messages under `filters` (empty ones, i.e. cleared, left out). The end is known by a probe:
 * after subscribing, we publish to a topic of our own that we also subscribe to; the broker handles our packets in
 * order, so the probe comes back after every retained message of the earlier subscriptions.
 */
export async function readRetained(client: MqttClient, root: string, filters: readonly string[], timeoutMs = 10_000): Promise<Map<string, Buffer>> {
  const probe = `${root}/probe/${randomUUID()}`;
  const found = new Map<string, Buffer>();
  let onMessage: (topic: string, payload: Buffer) => void = () => undefined;
  const probed = new Promise<void>((resolve) => {
    onMessage = (topic, payload) => {
      if (topic === probe) resolve();
      else if (payload.length > 0) found.set(topic, payload);
    };
    client.on("message", onMessage);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new BrokerError(`the broker did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        await client.subscribeAsync(probe, { qos: 1 });
        await client.subscribeAsync([...filters], { qos: 1 });
        await publishAsync(client, probe, "", false);
        await probed;
        await client.unsubscribeAsync([probe, ...filters]);
      })(),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
    client.removeListener("message", onMessage);
  }
  return found;
}

/** Disconnects, waiting at most `timeoutMs` (MQTT.js's end() never calls back on a connection already lost). */
export async function closeBroker(client: MqttClient, timeoutMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
