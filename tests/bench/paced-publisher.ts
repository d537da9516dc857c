/**
 * One process of the ingest bench's fleet (fleet-ingest-bench.ts): `clients` MQTT connections, each a gate
 * (`qrgate/v1/<site>/<device>/entry`), publishing entries in the contract's format (docs/contract.md) at QoS 1,
 * paced so that the process as a whole offers `rate` entries/s, spread evenly over its connections.
 *
 * Driven over IPC: `{ go: startAtMs, seconds }` starts publishing at that wall-clock time; it answers
 * `{ ready }` once every connection is up and `{ done, sent, acked, lateMs }` once the time is over and every
 * PUBACK came back (or 30 s passed). `ts` of each entry is its publish time, so the consumer's lag is publish ->
 * row committed. Ids are UUIDv7-shaped and unique per run.
 */
import { randomUUID } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";

interface Go {
  readonly go: number;
  readonly seconds: number;
}

const URL_ = process.env.PUB_URL ?? "mqtt://127.0.0.1:1883";
const CLIENTS = Number(process.env.PUB_CLIENTS ?? 250);
const RATE = Number(process.env.PUB_RATE ?? 2500);
const PROC = Number(process.env.PUB_PROC ?? 0);
const TICK_MS = 5;

function send(m: unknown): void {
  process.send?.(m);
}

async function connectAll(): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  // In groups of 50, so the broker is not handed 1,000 CONNECTs in one instant.
  for (let i = 0; i < CLIENTS; i += 50) {
    const group = [];
    for (let j = i; j < Math.min(CLIENTS, i + 50); j++) {
      group.push(
        mqtt.connectAsync(URL_, {
          protocolVersion: 5,
          clientId: `bench-gate-${PROC}-${j}`,
          clean: true,
          reconnectPeriod: 1000,
          keepalive: 60,
        }),
      );
    }
    clients.push(...(await Promise.all(group)));
  }
  return clients;
}

function entryPayload(proc: number, client: number, tsMs: number): string {
  const h = tsMs.toString(16).padStart(12, "0");
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-7${randomUUID().slice(15)}`;
  return (
    `{"id":"${id}","ts":"${new Date(tsMs).toISOString()}","site":"site-${proc}","device":"gate-${client}",` +
    `"door":"main","decision":"allow","reason":"ok","kind":"cccd","subject":"001099${String(client).padStart(6, "0")}",` +
    `"latencyMs":12.5,"statusVersion":7,"stale":false}`
  );
}

async function main(): Promise<void> {
  const clients = await connectAll();
  const topics = clients.map((_c, i) => `qrgate/v1/site-${PROC}/gate-${i}/entry`);
  send({ ready: true });
  const go = await new Promise<Go>((resolve) => process.on("message", (m: Go) => resolve(m)));
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let next = 0; // round robin over the connections
  let maxLateMs = 0;
  await new Promise<void>((r) => setTimeout(r, Math.max(0, go.go - Date.now())));
  const endMs = go.go + go.seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = Date.now();
      const due = Math.floor((Math.min(now, endMs) - go.go) * (RATE / 1000));
      // How far behind its schedule the publisher itself is (the publisher's CPU, not the consumer's).
      if (due - sent > RATE / 100) maxLateMs = Math.max(maxLateMs, ((due - sent) / RATE) * 1000);
      while (sent < due) {
        const i = next;
        next = (next + 1) % clients.length;
        clients[i]!.publish(topics[i]!, entryPayload(PROC, i, now), { qos: 1 }, (e) => {
          if (e) failed += 1;
          else acked += 1;
        });
        sent += 1;
      }
      if (now >= endMs) resolve();
      else setTimeout(tick, TICK_MS);
    };
    tick();
  });
  const deadline = Date.now() + 30_000;
  while (acked + failed < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  send({ done: true, sent, acked, failed, lateMs: Math.round(maxLateMs) });
  await Promise.all(clients.map((c) => c.endAsync(true)));
  process.disconnect?.();
}

main().catch((e: unknown) => {
  process.stderr.write(`paced-publisher: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
