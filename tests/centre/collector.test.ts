/**
 * The collector against a real Mosquitto, with each store: stores what the fleet publishes, de-duplicates,
 * rejects what it cannot read, shares a fleet between collectors, and acknowledges only what it committed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Collector, type CollectorOptions } from "../../src/centre/collector.js";
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
  /** Makes the database itself refuse entries at door `poison` (a real constraint, not our check). */
  poison(store: EntryStore): Promise<void>;
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
    async poison(store) {
      (store as SqliteEntryStore).database.exec(
        "CREATE TRIGGER no_poison BEFORE INSERT ON entries WHEN NEW.door = 'poison' BEGIN SELECT RAISE(ABORT, 'poison door'); END",
      );
      return Promise.resolve();
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
    async poison(store) {
      await (store as PostgresEntryStore).query("ALTER TABLE entries ADD CONSTRAINT no_poison CHECK (door <> 'poison')");
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

function collectorOn(
  kind: Kind,
  opts: { group: string; clientId?: string; store?: EntryStore; url?: string; extra?: Partial<CollectorOptions> },
) {
  const store = opts.store ?? kind.create();
  const { logger, lines } = memoryLogger();
  const collector = new Collector({
    store,
    url: opts.url ?? broker.url,
    logger,
    group: opts.group,
    clientId: opts.clientId ?? `c-${opts.group}-${Math.random().toString(16).slice(2, 8)}`,
    ...opts.extra,
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

  it("sets poison messages aside in `rejected`, acknowledges them, and stores every good entry", async () => {
    const { collector, store } = collectorOn(kind, { group: uniqueGroup() });
    await collector.start();
    const pub = await publisher();
    const base = Date.parse("2021-08-01T02:00:00Z");
    const good = Array.from({ length: 49 }, (_, i) => makeEntry({ tsMs: base + i * 1000, subject: subjectId(i) }));
    const e = (o: Record<string, unknown>): string => JSON.stringify({ ...makeEntry({ tsMs: base }), ...o });
    const at = "qrgate/v1/market-1/gate-1";
    const poison: [string, string, string][] = [
      [`${at}/entry`, e({ statusVersion: 1.5 }), "statusVersion"],
      [`${at}/entry`, e({ statusVersion: 1e30 }), "statusVersion"],
      [`${at}/entry`, e({ door: "d".repeat(4096) }), "door"],
      [`${at}/entry`, e({ door: "d".repeat(1 << 20) }), "payload too large"],
      [`${at}/entry`, e({ subject: "1".repeat(1 << 20) }), "payload too large"],
      [`${at}/entry`, e({ door: "ma\u0000in" }), "door"],
      [`${at}/entry`, e({ ts: "1" }), "ts"],
      [`${at}/entry`, e({ ts: 1e300 }), "ts"],
      [`${at}/entry`, e({ ts: "2019-12-31T23:59:59.000Z" }), "ts"],
      [`${at}/entry`, e({ ts: "2099-01-01T00:00:00.000Z" }), "ts"],
      [`${at}/event`, JSON.stringify({ type: "door_forced", ts: 1e300 }), "ts"],
      [`${at}/state`, JSON.stringify({ state: "online", ts: 1.5 }), "ts"],
      [`${at}/event`, JSON.stringify({ type: "door_forced", extra: Array.from({ length: 2500 }, (_, i) => ({ i, deep: { deeper: { text: "x".repeat(64) } } })) }), "payload too large"],
    ];
    for (let i = 0; i < good.length; i++) {
      await pub.publishAsync(`${at}/entry`, JSON.stringify(good[i]), { qos: 1 });
      const p = poison[i % 4 === 0 ? i / 4 : -1];
      if (p !== undefined) await pub.publishAsync(p[0], p[1], { qos: 1 });
    }
    await waitFor("49 entries and 13 rejections", async () => (await store.countEntries()) === 49 && collector.stats.rejected === poison.length);
    const all = await store.entriesAtDoor(good[0]!, { fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") }, { includeDenied: true });
    expect(all.map((x) => x.id).sort()).toEqual(good.map((x) => x.id).sort());
    const rejected = await store.rejectedMessages({ fromMs: 0, toMs: Date.now() + 60_000 });
    // Two batches commit at once, so the rows of `rejected` need not be in publish order: each is matched to its
    // message by topic, the bytes kept (the first 4 KB) and the reason, and every message must be matched once.
    const matched = rejected.map((r) =>
      poison.findIndex((p) => p[0] === r.topic && Buffer.from(p[1]).subarray(0, 4096).equals(r.payload) && r.reason.includes(p[2])),
    );
    expect(matched.sort((a, b) => a - b)).toEqual(poison.map((_p, i) => i));
    expect(rejected.every((r) => r.payload.length <= 4096)).toBe(true);
    await waitFor("everything acknowledged", () => collector.stats.acked === collector.stats.received);
  });

  it("stores the topic's site and device: a payload naming another device is rejected, never stored", async () => {
    const { collector, store } = collectorOn(kind, { group: uniqueGroup() });
    await collector.start();
    const pub = await publisher();
    const forged = makeEntry({ site: "other-site", device: "gate-4" });
    const honest = makeEntry({ site: "site-a", device: "gate-4", tsMs: Date.parse("2021-08-01T03:00:00Z") });
    await pub.publishAsync("qrgate/v1/site-a/gate-4/entry", JSON.stringify(forged), { qos: 1 });
    await pub.publishAsync("qrgate/v1/site-a/gate-4/entry", JSON.stringify(honest), { qos: 1 });
    await waitFor("the honest entry and one rejection", async () => (await store.countEntries()) === 1 && collector.stats.rejected === 1);
    const range = { fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") };
    expect(await store.entriesAtSite("other-site", range, { includeDenied: true })).toEqual([]);
    expect((await store.entriesAtSite("site-a", range)).map((x) => x.id)).toEqual([honest.id]);
    const [r] = await store.rejectedMessages({ fromMs: 0, toMs: Date.now() + 60_000 });
    expect(r).toMatchObject({ topic: "qrgate/v1/site-a/gate-4/entry" });
    expect(r!.reason).toContain("another device than its topic");
  });

  it("stores a reason and a kind it does not know as they are (the contract may grow)", async () => {
    const { collector, store } = collectorOn(kind, { group: uniqueGroup() });
    await collector.start();
    const pub = await publisher();
    const newer = { ...makeEntry(), reason: "future_reason", kind: "dcc" };
    await pub.publishAsync("qrgate/v1/market-1/gate-1/entry", JSON.stringify(newer), { qos: 1 });
    await waitFor("the entry", async () => (await store.countEntries()) === 1);
    const [got] = await store.entriesOfSubject(newer.subject!, { fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") });
    expect(got).toMatchObject({ reason: "future_reason", kind: "dcc" });
    expect(collector.stats.rejected).toBe(0);
  });

  it("splits a batch the database refuses: the refused row goes to `rejected`, the others are stored", async () => {
    const store = kind.create();
    await store.migrate();
    await kind.poison(store);
    const { collector } = collectorOn(kind, { group: uniqueGroup(), store, extra: { lingerMs: 300 } });
    cleanups.push(() => kind.destroy(store));
    await collector.start();
    const pub = await publisher();
    const base = Date.parse("2021-08-01T02:00:00Z");
    const good = Array.from({ length: 60 }, (_, i) => makeEntry({ tsMs: base + i, subject: subjectId(i) }));
    const bad = makeEntry({ tsMs: base + 30, door: "poison" });
    await publishEntries(pub, [...good.slice(0, 30), bad, ...good.slice(30)]);
    await waitFor("60 entries and one rejection", async () => (await store.countEntries()) === 60 && collector.stats.rejected === 1);
    expect(collector.stats.splits).toBeGreaterThan(0);
    expect(collector.stats.commitErrors).toBe(0);
    const [r] = await store.rejectedMessages({ fromMs: 0, toMs: Date.now() + 60_000 });
    expect(r!.reason).toMatch(/^refused by the database \((23514|SQLITE_CONSTRAINT\w*)\)/);
    expect(JSON.parse(r!.payload.toString()) as unknown).toEqual(bad);
    await waitFor("everything acknowledged", () => collector.stats.acked === 61);
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

describe("a broker restarted gracefully with persistence on", () => {
  it("delivers to the collector again: it subscribes on every CONNACK, also with a present session", async () => {
    const own = await startBroker({ persistence: true });
    cleanups.push(() => own.dispose());
    const { collector, store } = collectorOn(KINDS[0]!, { group: uniqueGroup(), url: own.url });
    await collector.start();
    const before = await connectPublisher(own.url);
    await publishEntries(before, [makeEntry({ tsMs: Date.parse("2021-08-01T01:00:00Z") })]);
    await before.endAsync();
    await waitFor("the first entry", async () => (await store.countEntries()) === 1);

    await own.stop(); // SIGTERM: Mosquitto saves its sessions and ends cleanly
    await own.start();
    await waitFor("the collector to resubscribe", () => collector.stats.subscribes === 2);
    const pub = await connectPublisher(own.url);
    cleanups.push(() => pub.endAsync());
    const entries = Array.from({ length: 100 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i, subject: subjectId(i) }));
    await publishEntries(pub, entries);
    await waitFor("the 100 entries published after the restart", async () => (await store.countEntries()) === 101);
  });
});

describe("collector health in its log", () => {
  it("raises no_entries when gates are online and nothing arrives, and clears it with the next entry", async () => {
    const { collector, store, lines } = collectorOn(KINDS[0]!, {
      group: uniqueGroup(),
      extra: { silenceAlarmMs: 200, silenceCheckMs: 20 },
    });
    await collector.start();
    const pub = await publisher();
    await pub.publishAsync("qrgate/v1/market-1/gate-1/state", JSON.stringify({ state: "online", ts: new Date().toISOString() }), { qos: 1 });
    await waitFor("the state", async () => (await store.deviceStates()).length === 1);
    const logged = (msg: string) => lines.some((l) => (JSON.parse(l) as { msg: string }).msg === msg);
    await waitFor("the alarm", () => logged("no entries while gates are online") && collector.stats.silenceAlarm === 1);
    const alarm = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "no entries while gates are online");
    expect(alarm).toMatchObject({ alarm: "no_entries", onlineDevices: 1, level: 40 });
    await publishEntries(pub, [makeEntry()]);
    await waitFor("the alarm cleared", () => logged("entries arriving again") && collector.stats.silenceAlarm === 0);
  });

  it("raises nothing while no gate is online", async () => {
    const { collector, lines } = collectorOn(KINDS[0]!, { group: uniqueGroup(), extra: { silenceAlarmMs: 50, silenceCheckMs: 10, statsIntervalMs: 20 } });
    await collector.start();
    // Several counts lines mean many silence checks have run meanwhile.
    await waitFor("counts logged three times", () => lines.filter((l) => l.includes('"msg":"counts"')).length >= 3);
    expect(collector.stats.silenceAlarm).toBe(0);
    expect(lines.some((l) => l.includes("no_entries"))).toBe(false);
  });

  it("logs stored, duplicate and rejected counts periodically and on stop", async () => {
    const { collector, lines, stop } = collectorOn(KINDS[0]!, { group: uniqueGroup(), extra: { statsIntervalMs: 30 } });
    await collector.start();
    const pub = await publisher();
    const e = makeEntry();
    await publishEntries(pub, [e, e]);
    await pub.publishAsync("qrgate/v1/market-1/gate-1/entry", "{", { qos: 1 });
    const counts = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "counts");
    await waitFor("a periodic count of all three", () => counts().some((c) => c.stored === 1 && c.duplicate === 1 && c.rejected === 1));
    const n = counts().length;
    await stop();
    expect(counts().length).toBe(n + 1);
    expect(counts().at(-1)).toMatchObject({ stored: 1, duplicate: 1, rejected: 1, level: 30 });
  });
});

describe("a flood of huge messages", () => {
  it("never reaches the collector past its Maximum Packet Size; what follows still does", async () => {
    const { collector, store } = collectorOn(KINDS[0]!, { group: uniqueGroup(), extra: { maximumPacketSize: 64 * 1024 } });
    await collector.start();
    const pub = await publisher();
    await pub.publishAsync("qrgate/v1/market-1/gate-1/entry", Buffer.alloc(256 * 1024, 0x20), { qos: 1 });
    const after = makeEntry();
    await publishEntries(pub, [after]);
    await waitFor("the entry after it", async () => (await store.countEntries()) === 1);
    expect(collector.stats.received).toBe(1);
  });
});
