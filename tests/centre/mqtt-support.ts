/** A stand-in fleet for collector tests: publishes entries, states and events as gates do (QoS 1). */
import mqtt, { type MqttClient } from "mqtt";
import { pino, type Logger } from "pino";
import type { EntryMessage } from "../../src/contract/entry.js";

export async function connectPublisher(url: string, clientId = `fleet-${Math.random().toString(16).slice(2)}`): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 5, clientId, reconnectPeriod: 200 });
}

export function entryTopic(e: EntryMessage, root = "qrgate/v1"): string {
  return `${root}/${e.site}/${e.device}/entry`;
}

/** Publishes every entry at QoS 1 and resolves when the broker has acknowledged them all. */
export async function publishEntries(client: MqttClient, entries: readonly EntryMessage[]): Promise<void> {
  await Promise.all(entries.map((e) => client.publishAsync(entryTopic(e), JSON.stringify(e), { qos: 1 })));
}

/** Polls `probe` until it returns true, failing after `timeoutMs` with `what`. No fixed sleeps in tests. */
export async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A logger that keeps its lines for assertions (e.g. that no subject is logged). */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}
