/**
 * The collector's flow control against a real Mosquitto and a real PostgreSQL: two batches commit at once, yet
 * PUBACKs leave strictly in arrival order and only after their batch committed; above `maxHeld` held messages
 * the socket is no longer read, and reading resumes once they are committed.
 */
import type { IPublishPacket, MqttClient, Packet } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Collector, type CollectorOptions } from "../../src/centre/collector.js";
import type { IngestBatch, IngestResult } from "../../src/centre/entry-store.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry } from "./generate.js";
import { connectPublisher, memoryLogger, publishEntries, waitFor } from "./mqtt-support.js";
import { dropSchema, randomSchema, schemaUrl } from "./postgres-support.js";

/** A PostgreSQL store whose commits can be held at a gate: the commit runs only once the gate opens. */
class GatedStore extends PostgresEntryStore {
  /** Commits that began, in order, with how many entries. */
  readonly began: number[] = [];
  /** Commits that returned, by their order of beginning. */
  readonly finished: number[] = [];
  /** Which commits (by order of beginning) wait for `open()`; `all` holds every one. */
  hold: Set<number> | "all" = new Set();
  private gates: (() => void)[] = [];

  override async commitBatch(batch: IngestBatch): Promise<IngestResult> {
    const n = this.began.length;
    this.began.push(batch.entries.length);
    if (this.hold === "all" || this.hold.has(n)) await new Promise<void>((resolve) => this.gates.push(resolve));
    const r = await super.commitBatch(batch);
    this.finished.push(n);
    return r;
  }

  open(): void {
    this.hold = new Set();
    for (const g of this.gates.splice(0)) g();
  }
}

let broker: TestBroker;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  broker = await startBroker({ persistence: false });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await broker.dispose();
});

async function publisher(): Promise<MqttClient> {
  const p = await connectPublisher(broker.url);
  cleanups.push(() => p.endAsync());
  return p;
}

async function collectorWith(extra: Partial<CollectorOptions>): Promise<{ collector: Collector; store: GatedStore; arrived: number[]; pubacks: number[] }> {
  const schema = randomSchema();
  const store = new GatedStore(schemaUrl(schema));
  const group = `flow${Math.random().toString(16).slice(2, 8)}`;
  const arrived: number[] = [];
  const collector = new Collector({
    store,
    url: broker.url,
    logger: memoryLogger().logger,
    group,
    clientId: `c-${group}`,
    statsIntervalMs: 0,
    silenceAlarmMs: 0,
    // Sees each message first, in arrival order, and lets it through.
    intercept: (m) => {
      if (m.messageId !== undefined) arrived.push(m.messageId);
      return false;
    },
    ...extra,
  });
  cleanups.push(async () => {
    store.open();
    await collector.stop();
    await store.close();
    await dropSchema(schema);
  });
  await collector.start();
  // Every PUBACK the collector writes, in the order written.
  const pubacks: number[] = [];
  collector.mqttClient!.on("packetsend", (p: Packet) => {
    if (p.cmd === "puback") pubacks.push((p as unknown as IPublishPacket).messageId!);
  });
  return { collector, store, arrived, pubacks };
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("double-buffered commits", () => {
  it("commits the next batch while the first is in flight, but acknowledges nothing of it before the first", async () => {
    const { collector, store, arrived, pubacks } = await collectorWith({ batchMax: 10 });
    store.hold = new Set([0]); // the first commit is slow, the second fast
    const pub = await publisher();
    const entries = Array.from({ length: 40 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i }));
    await publishEntries(pub, entries);
    await waitFor("a second commit finished while the first waits", () => store.finished.length >= 1 && collector.stats.received === 40);
    await turns(5);
    expect(store.finished).not.toContain(0);
    expect(store.began.length).toBe(2); // never more than two in flight
    expect(pubacks).toEqual([]);
    expect(collector.stats.acked).toBe(0);

    store.open();
    await waitFor("all 40 acknowledged", () => collector.stats.acked === 40);
    expect(store.finished[0]).not.toBe(0); // the second did finish first
    expect(pubacks).toEqual(arrived); // strictly in arrival order
    expect(await store.countEntries()).toBe(40);
  });

  it("acknowledges each batch once committed when commits finish in order", async () => {
    const { collector, store, arrived, pubacks } = await collectorWith({ batchMax: 10 });
    const pub = await publisher();
    const entries = Array.from({ length: 100 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i }));
    await publishEntries(pub, entries);
    await waitFor("all 100 acknowledged", () => collector.stats.acked === 100);
    expect(pubacks).toEqual(arrived);
    expect(store.began.every((n) => n <= 10)).toBe(true);
    expect(await store.countEntries()).toBe(100);
  });
});

describe("intake under overload", () => {
  it("stops reading the socket above maxHeld and reads again once the held messages are committed", async () => {
    // The broker may send far more than maxHeld (Receive Maximum 65535): only the pause bounds what we hold.
    const { collector, store, pubacks } = await collectorWith({ batchMax: 10, maxHeld: 30, receiveMaximum: 65_535 });
    store.hold = "all";
    const pub = await publisher();
    const entries = Array.from({ length: 2000 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i }));
    await publishEntries(pub, entries); // the broker has them all now
    const stream = collector.mqttClient!.stream as unknown as { isPaused(): boolean; readableLength: number; readableHighWaterMark: number };
    await waitFor("intake paused", () => collector.stats.pauses === 1);
    // The unread bytes pile up in the socket's buffer while nothing more is handled.
    await waitFor("the socket's buffer full and unread", () => stream.readableLength >= stream.readableHighWaterMark);
    const held = collector.stats.received;
    await turns(5);
    expect(stream.isPaused()).toBe(true);
    expect(collector.stats.received).toBe(held);
    expect(held).toBeLessThan(2000);
    expect(collector.stats.held).toBe(held);
    expect(pubacks).toEqual([]);

    store.open();
    await waitFor("all 2000 stored and acknowledged", () => collector.stats.acked === 2000, 60_000);
    expect(await store.countEntries()).toBe(2000);
    expect(collector.stats.held).toBe(0);
    expect(stream.isPaused()).toBe(false);
  });
});
