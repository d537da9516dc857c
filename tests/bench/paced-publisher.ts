/**
 * One process of the ingest bench's fleet (fleet-ingest-bench.ts): `clients` MQTT 5 connections, each a gate
 * (`qrgate/v1/<site>/<device>/entry`), publishing entries in the contract's format (docs/contract.md) at QoS 1,
 * paced so that the process as a whole offers `rate` entries/s, spread evenly over its connections.
 *
 * The MQTT is spoken directly over TCP (CONNECT, PUBLISH QoS 1, PUBACK counted), not through mqtt.js: with
 * mqtt.js a publish cost 56 us of CPU, so 20,000 entries/s took more than half of this 2-core machine away from
 * the broker and the consumer under test; this costs a fraction of it (the bench prints it: `pub/e`).
 *
 * Driven over IPC: `{ go: startAtMs, seconds }` starts publishing at that wall-clock time; it answers
 * `{ ready }` once every connection is up and `{ done, sent, acked, lateMs, cpuUs }` once the time is over and
 * every PUBACK came back (or 30 s passed). `ts` of each entry is its publish time, so the consumer's lag is
 * publish -> row committed. Ids are UUIDv7-shaped and unique per run.
 */
import { randomUUID } from "node:crypto";
import { connect, type Socket } from "node:net";
import { varint } from "../../src/centre/deferred-acks.js";

interface Go {
  readonly go: number;
  readonly seconds: number;
}

const URL_ = new URL(process.env.PUB_URL ?? "mqtt://127.0.0.1:1883");
const CLIENTS = Number(process.env.PUB_CLIENTS ?? 250);
const RATE = Number(process.env.PUB_RATE ?? 2500);
const PROC = Number(process.env.PUB_PROC ?? 0);
const TICK_MS = 5;

function send(m: unknown): void {
  process.send?.(m);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** MQTT 5 CONNECT: clean start, no keepalive (the run is short and never idle), no properties. */
function connectPacket(clientId: string): Buffer {
  const body = Buffer.concat([str("MQTT"), Buffer.from([5, 0x02, 0, 0, 0]), str(clientId)]);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}

/** MQTT 5 PUBLISH at QoS 1, no properties. */
function publishPacket(topic: Buffer, id: number, payload: string): Buffer {
  const p = Buffer.from(payload, "utf8");
  const len = topic.length + 3 + p.length;
  return Buffer.concat([Buffer.from([0x32, ...varint(len)]), topic, Buffer.from([id >> 8, id & 0xff, 0]), p]);
}

/** One gate's connection: counts the PUBACKs that come back. */
class Gate {
  acked = 0;
  private nextId = 0;
  private buf: Buffer = Buffer.alloc(0);
  private connacked: (() => void) | null = null;
  readonly topic: Buffer;

  constructor(
    private readonly socket: Socket,
    topic: string,
  ) {
    this.topic = str(topic);
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.read(d));
    socket.on("error", () => undefined);
  }

  static async open(clientId: string, topic: string): Promise<Gate> {
    const socket = connect(Number(URL_.port), URL_.hostname);
    const gate = new Gate(socket, topic);
    await new Promise<void>((resolve, reject) => {
      gate.connacked = resolve;
      socket.once("error", reject);
      socket.write(connectPacket(clientId));
    });
    return gate;
  }

  publish(payload: string): void {
    this.nextId = (this.nextId % 65535) + 1;
    this.socket.write(publishPacket(this.topic, this.nextId, payload));
  }

  end(): void {
    this.socket.end(Buffer.from([0xe0, 0]));
  }

  private read(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let at = 0;
    for (;;) {
      if (at + 2 > this.buf.length) break;
      let len = 0;
      let mul = 1;
      let i = at + 1;
      let complete = false;
      while (i < this.buf.length) {
        const b = this.buf[i++]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + len > this.buf.length) break;
      const type = this.buf[at]! & 0xf0;
      if (type === 0x40) this.acked += 1;
      else if (type === 0x20) this.connacked?.();
      at = i + len;
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
  }
}

async function connectAll(): Promise<Gate[]> {
  const gates: Gate[] = [];
  // In groups of 50, so the broker is not handed 1,000 CONNECTs in one instant.
  for (let i = 0; i < CLIENTS; i += 50) {
    const group: Promise<Gate>[] = [];
    for (let j = i; j < Math.min(CLIENTS, i + 50); j++) {
      group.push(Gate.open(`bench-gate-${PROC}-${j}`, `qrgate/v1/site-${PROC}/gate-${j}/entry`));
    }
    gates.push(...(await Promise.all(group)));
  }
  return gates;
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
  const gates = await connectAll();
  send({ ready: true });
  const go = await new Promise<Go>((resolve) => process.on("message", (m: Go) => resolve(m)));
  let sent = 0;
  let next = 0; // round robin over the connections
  let maxLateMs = 0;
  await new Promise<void>((r) => setTimeout(r, Math.max(0, go.go - Date.now())));
  const cpu0 = process.cpuUsage();
  const endMs = go.go + go.seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = Date.now();
      const due = Math.floor((Math.min(now, endMs) - go.go) * (RATE / 1000));
      // How far behind its schedule the publisher itself is (the publisher's CPU, not the consumer's).
      if (due - sent > RATE / 100) maxLateMs = Math.max(maxLateMs, ((due - sent) / RATE) * 1000);
      while (sent < due) {
        const i = next;
        next = (next + 1) % gates.length;
        gates[i]!.publish(entryPayload(PROC, i, now));
        sent += 1;
      }
      if (now >= endMs) resolve();
      else setTimeout(tick, TICK_MS);
    };
    tick();
  });
  const acked = (): number => gates.reduce((a, g) => a + g.acked, 0);
  const deadline = Date.now() + 30_000;
  while (acked() < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const cpu = process.cpuUsage(cpu0);
  send({ done: true, sent, acked: acked(), failed: 0, lateMs: Math.round(maxLateMs), cpuUs: cpu.user + cpu.system });
  for (const g of gates) g.end();
  process.disconnect?.();
}

main().catch((e: unknown) => {
  process.stderr.write(`paced-publisher: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
