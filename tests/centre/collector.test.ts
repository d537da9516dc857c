/**
 * The collector against a real Mosquitto, with each store: stores what the fleet publishes, de-duplicates,
 * rejects what it cannot read, shares a fleet between collectors, and acknowledges only what it committed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../../src/centre/collector.js";
import type { EntryStore, IngestBatch, IngestResult } from "../../src/centre/entry-store.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry, subjectId } from "./generate.js";
import { connectPublisher, memoryLogger, publishEntries, waitFor } from "./mqtt-support.js";
import { dropSchema, randomSchema, schemaUrl } from "./postgres-support.js";

interface Kind {
  name: string;
  create(): EntryStore;
  destroy(store: EntryStore): Promise<void>;
}

const dirs: string[] = [];
const KINDS: Kind[] = [
  {
    name: "SQLite",
    create() {
      const dir = mkdtempSync(join(tmpdir(), "qrgate-collect-"));
      dirs.push(dir);
      return new SqliteEntryStore(join(dir, "centre.db"));
    },
    async destroy(store) {
      await store.close();
    },
  },
  {
    name: "PostgreSQL",
    create() {
      return new PostgresEntryStore(schemaUrl(randomSchema()));
    },
    async destroy(store) {
      const schema = (store as PostgresEntryStore).schema;
      await store.close();
      if (schema !== null) await dropSchema(schema);
    },
  },
];

let broker: TestBroker;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  broker = await startBroker();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await broker.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let seq = 0;
function uniqueGroup(): string {
  seq += 1;
  return `g${seq}${Math.random().toString(16).slice(2, 8)}`;
}

async function publisher(): Promise<MqttClient> {
  const p = await connectPublisher(broker.url);
  cleanups.push(() => p.endAsync());
  return p;
}

function collectorOn(kind: Kind, opts: { group: string; clientId?: string; store?: EntryStore }) {
  const store = opts.store ?? kind.create();
  const { logger, lines } = memoryLogger();
  const collector = new Collector({
    store,
    url: broker.url,
    logger,
    group: opts.group,
    clientId: opts.clientId ?? `c-${opts.group}-${Math.random().toString(16).slice(2, 8)}`,
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await collector.stop();
  };
  cleanups.push(async () => {
    await stop();
    if (opts.store === undefined) await kind.destroy(store);
  });
  return { collector, store, lines, stop };
}

describe.each(KINDS)("collector with $name", (kind) => {
  it("stores the fleet's entries, states and events", async () => {
    const { collector, store } = collectorOn(kind, { group: uniqueGroup() });
    await collector.start();
    const pub = await publisher();
    const entries = Array.from({ length: 200 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i * 1000, subject: subjectId(i % 17) }));
    await publishEntries(pub, entries);
    await pub.publishAsync("qrgate/v1/market-1/gate-1/state", JSON.stringify({ state: "online", ts: "2021-08-01T01:59:00.000Z", version: "0.1.0", bootId: "b1" }), { qos: 1 });
    await pub.publishAsync("qrgate/v1/market-1/gate-1/event", JSON.stringify({ type: "door_forced", ts: "2021-08-01T02:01:00.000Z" }), { qos: 1 });
    await waitFor("200 entries, a state and an event", async () => (await store.countEntries()) === 200 && collector.stats.events === 1 && collector.stats.states === 1);
    const got = await store.entriesAtDoor(entries[0]!, { fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") });
    expect(got).toEqual(entries);
    await waitFor("state stored", async () => (await store.deviceStates()).length === 1);
    expect((await store.deviceStates())[0]).toMatchObject({ site: "market-1", device: "gate-1", state: "online", bootId: "b1" });
    expect((await store.events({ fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") })).map((e) => e.type)).toEqual(["door_forced"]);
  });

  it("stores an entry published twice once", async () => {
    const { collector, store } = collectorOn(kind, { group: uniqueGroup() });
    await collector.start();
    const pub = await publisher();
    const e = makeEntry();
    await publishEntries(pub, [e, e, e]);
    const marker = makeEntry({ tsMs: Date.parse("2021-08-01T03:00:00Z") });
    await publishEntries(pub, [marker]);
    await waitFor("all four messages committed", () => collector.stats.entriesNew + collector.stats.entriesDuplicate === 4);
    expect(await store.countEntries()).toBe(2);
    expect(collector.stats.entriesDuplicate).toBe(2);
  });

  it("acknowledges and drops unreadable payloads, counting them, and never logs a subject at info", async () => {
    const { collector, store, lines } = collectorOn(kind, { group: uniqueGroup() });
    await collector.start();
    const pub = await publisher();
    const bad = { ...makeEntry(), decision: "perhaps" };
    await pub.publishAsync("qrgate/v1/market-1/gate-1/entry", "not json", { qos: 1 });
    await pub.publishAsync("qrgate/v1/market-1/gate-1/entry", JSON.stringify(bad), { qos: 1 });
    await pub.publishAsync("qrgate/v1/market-1/gate-1/event", JSON.stringify({ no: "type" }), { qos: 1 });
    const good = makeEntry({ subject: "001099099999" });
    await publishEntries(pub, [good]);
    await waitFor("the good entry", async () => (await store.countEntries()) === 1);
    await waitFor("three rejections", () => collector.stats.rejected === 3);
    const warn = lines.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string });
    expect(warn.filter((l) => l.msg === "message rejected").map((l) => l.reason)).toEqual([
      "payload is not JSON",
      "decision: expected allow or deny",
      "type: expected a string",
    ]);
    expect(lines.join("\n")).not.toContain("001099099999");
  });

  it("two collectors sharing a subscription receive each entry once between them", async () => {
    const group = uniqueGroup();
    const store = kind.create();
    cleanups.push(() => kind.destroy(store));
    const a = collectorOn(kind, { group, store });
    const b = collectorOn(kind, { group, store });
    await a.collector.start();
    await b.collector.start();
    const pub = await publisher();
    const entries = Array.from({ length: 1000 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i, subject: subjectId(i) }));
    await publishEntries(pub, entries);
    await waitFor("1000 entries", async () => (await store.countEntries()) === 1000);
    await a.stop();
    await b.stop();
    expect(a.collector.stats.received + b.collector.stats.received).toBe(1000);
    expect(a.collector.stats.entriesDuplicate + b.collector.stats.entriesDuplicate).toBe(0);
    expect(a.collector.stats.received).toBeGreaterThan(0);
    expect(b.collector.stats.received).toBeGreaterThan(0);
  });
});

describe("retention", () => {
  it("purges entries older than --retention-days at start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-collect-"));
    dirs.push(dir);
    const store = new SqliteEntryStore(join(dir, "centre.db"));
    cleanups.push(() => store.close());
    await store.migrate();
    const now = Date.parse("2021-09-01T00:00:00Z");
    const old = makeEntry({ tsMs: now - 31 * 86_400_000 });
    const recent = makeEntry({ tsMs: now - 29 * 86_400_000 });
    await store.insertEntries([old, recent]);
    const { logger } = memoryLogger();
    const collector = new Collector({ store, url: broker.url, logger, group: uniqueGroup(), clientId: `ret-${seq}`, retentionDays: 30, now: () => now });
    cleanups.push(() => collector.stop());
    await collector.start();
    const left = await store.entriesAtDoor(old, { fromMs: 0, toMs: now }, { includeDenied: true });
    expect(left.map((e) => e.id)).toEqual([recent.id]);
  });
});

describe("acknowledge after commit", () => {
  /** A store whose commits fail until `heal()`, to see that nothing uncommitted is acknowledged. */
  class FailingStore extends SqliteEntryStore {
    failing = true;
    override commitBatch(batch: IngestBatch): Promise<IngestResult> {
      if (this.failing) return Promise.reject(new Error("disk on fire"));
      return super.commitBatch(batch);
    }
  }

  it("redelivers to the next session what the previous one could not commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-collect-"));
    dirs.push(dir);
    const group = uniqueGroup();
    const clientId = `ack-${group}`;
    const failing = new FailingStore(join(dir, "centre.db"));
    const first = collectorOn(KINDS[0]!, { group, clientId, store: failing });
    await first.collector.start();
    const pub = await publisher();
    const entries = Array.from({ length: 50 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i }));
    await publishEntries(pub, entries);
    await waitFor("a failed commit", () => first.collector.stats.commitErrors > 0 && first.collector.stats.received === 50);
    await first.stop();
    expect(first.collector.stats.acked).toBe(0);
    await failing.close();

    const healthy = new SqliteEntryStore(join(dir, "centre.db"));
    const second = collectorOn(KINDS[0]!, { group, clientId, store: healthy });
    cleanups.push(() => healthy.close());
    await second.collector.start();
    await waitFor("the 50 entries, redelivered", async () => (await healthy.countEntries()) === 50);
    expect(second.collector.stats.entriesNew).toBe(50);
  });
});
