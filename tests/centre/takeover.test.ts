/**
 * Collectors that cover for each other (issue 16, item 2), with real processes: two `qrgate collect` on one store
 * and one Mosquitto, a publisher sending entries at QoS 1 at a steady pace, and one collector SIGKILLed (or frozen
 * with SIGSTOP) in the middle. The survivor must take the gone collector's session over and retire it, so that
 * every entry is stored exactly once while the other collector stays away. Nothing here waits a fixed time: the
 * take-over time is logged, not asserted (the bench measures it at scale).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EntryStore } from "../../src/centre/entry-store.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { spawnCollector, type CollectorProcess } from "../support/collector-process.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry, subjectId } from "./generate.js";
import { connectPublisher, entryTopic, waitFor } from "./mqtt-support.js";
import { dropSchema, randomSchema, schemaUrl } from "./postgres-support.js";

/** Short leases keep the test short: taken over about 2.4 s after the last renewal. */
const LEASE_TTL_S = "2";
const N = 2400;
const PER_TICK = 20;
const TICK_MS = 50; // 400 entries/s, 6 s

let broker: TestBroker;
const dirs: string[] = [];
const running: CollectorProcess[] = [];

beforeAll(async () => {
  broker = await startBroker();
});

afterEach(() => {
  for (const c of running.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill("SIGCONT");
      c.child.kill("SIGKILL");
    }
  }
});

afterAll(async () => {
  await broker.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Kind {
  readonly name: string;
  open(): { db: string; reader: () => EntryStore; drop: () => Promise<void> };
}

const POSTGRES: Kind = {
  name: "PostgreSQL",
  open() {
    const schema = randomSchema();
    const url = schemaUrl(schema);
    return { db: url, reader: () => new PostgresEntryStore(url), drop: () => dropSchema(schema) };
  },
};

const SQLITE: Kind = {
  name: "SQLite",
  open() {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-takeover-"));
    dirs.push(dir);
    const file = join(dir, "centre.db");
    return { db: file, reader: () => new SqliteEntryStore(file), drop: () => Promise.resolve() };
  },
};

async function startCollector(name: string, db: string, group: string): Promise<CollectorProcess> {
  const c = spawnCollector(name, broker.url, ["--db", db, "--group", group, "--lease-ttl-s", LEASE_TTL_S]);
  running.push(c);
  await waitFor(`${name} collecting`, () => c.lines.some((l) => l.includes('"msg":"collecting"')) || c.child.exitCode !== null);
  if (c.child.exitCode !== null) throw new Error(`${name} exited ${c.child.exitCode}: ${c.lines.join("\n")}`);
  return c;
}

/** Publishes `entries` at QoS 1, PER_TICK every TICK_MS (paced by a timer, not by the broker's answers). */
async function publishPaced(pub: MqttClient, entries: readonly EntryMessage[], onProgress: (sent: number) => void): Promise<void> {
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < entries.length; i += PER_TICK) {
    for (const e of entries.slice(i, i + PER_TICK)) acks.push(pub.publishAsync(entryTopic(e), JSON.stringify(e), { qos: 1 }));
    onProgress(Math.min(entries.length, i + PER_TICK));
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await Promise.all(acks);
}

function entries(n: number, from = 0): EntryMessage[] {
  const t0 = Date.parse("2021-08-01T02:00:00Z");
  return Array.from({ length: n }, (_, i) => makeEntry({ tsMs: t0 + (from + i) * 10, subject: subjectId((from + i) % 997), device: `gate-${(from + i) % 7}` }));
}

/** Rows, distinct ids, and whether they are exactly the published ids. */
async function storedIds(store: EntryStore, published: readonly EntryMessage[]): Promise<{ rows: number; distinct: number; exact: boolean }> {
  const all: string[] = [];
  for await (const page of store.entryPages({ site: "market-1" }, { fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") }, { includeDenied: true })) {
    all.push(...page.map((e) => e.id));
  }
  const want = new Set(published.map((e) => e.id));
  const got = new Set(all);
  return { rows: await store.countEntries(), distinct: got.size, exact: got.size === want.size && [...want].every((id) => got.has(id)) };
}

function msOf(line: Record<string, unknown> | undefined): number {
  return typeof line?.time === "number" ? line.time : NaN;
}

describe.each([POSTGRES, SQLITE])("two collectors on $name", (kind) => {
  it(`one SIGKILLed mid-stream: the other takes its session over, all ${N} entries are stored once; back, it starts afresh`, async () => {
    const { db, reader, drop } = kind.open();
    const group = `tk${kind.name.toLowerCase()}`;
    const a = await startCollector(`${group}-a`, db, group);
    const b = await startCollector(`${group}-b`, db, group);
    const store = reader();
    const pub = await connectPublisher(broker.url);
    try {
      const published = entries(N);
      let killedAt = 0;
      const killAt = Math.floor(N / 4);
      await publishPaced(pub, published, (sent) => {
        if (killedAt === 0 && sent >= killAt) {
          a.child.kill("SIGKILL");
          killedAt = Date.now();
        }
      });
      await a.exited;
      await waitFor(`all ${N} entries`, async () => (await store.countEntries()) >= N, 25_000);
      const took = b.logged("collector gone (lease expired): taking over its session")[0];
      const retired = b.logged("retired the session of a gone collector: its share goes to the others")[0];
      expect(took).toMatchObject({ session: `${group}-a` });
      expect(retired).toMatchObject({ sessionPresent: true, drainedBy: "marker" });
      // The dead collector's session held entries that only the take-over could store.
      expect(retired!.entriesNew).toBeGreaterThan(0);
      expect(await storedIds(store, published)).toEqual({ rows: N, distinct: N, exact: true });
      // The lease of the dead collector is released once its session is retired.
      await waitFor("the dead collector's lease released", async () => (await store.leases(group)).every((l) => l.name !== `${group}-a`));
      process.stdout.write(
        `[takeover ${kind.name}] SIGKILL -> taking over ${msOf(took) - killedAt} ms, -> retired ${msOf(retired) - killedAt} ms; ` +
          `drained ${String(retired!.received)} messages (${String(retired!.entriesNew)} new); stored ${N}/${N}\n`,
      );

      // Back, the dead collector starts afresh (its session was retired) and takes its share again.
      const back = await startCollector(`${group}-a`, db, group);
      expect(back.logged("connected")[0]).toMatchObject({ sessionPresent: false });
      const more = entries(200, N);
      await publishPaced(pub, more, () => undefined);
      await waitFor(`all ${N + 200} entries`, async () => (await store.countEntries()) >= N + 200, 25_000);
      back.child.kill("SIGTERM");
      expect((await back.exited).code).toBe(0);
      expect(back.logged("stopped")[0]?.entriesNew).toBeGreaterThan(0);
      expect(await storedIds(store, [...published, ...more])).toEqual({ rows: N + 200, distinct: N + 200, exact: true });
    } finally {
      await pub.endAsync();
      await store.close();
      await drop();
    }
  }, 60_000);
});

describe("a frozen collector (SIGSTOP), on PostgreSQL", () => {
  it("is taken over while frozen, and on SIGCONT stands down instead of taking its session back", async () => {
    const { db, reader, drop } = POSTGRES.open();
    const group = "tkfrozen";
    const a = await startCollector(`${group}-a`, db, group);
    const b = await startCollector(`${group}-b`, db, group);
    const store = reader();
    const pub = await connectPublisher(broker.url);
    try {
      const first = entries(N / 2);
      let frozenAt = 0;
      await publishPaced(pub, first, (sent) => {
        if (frozenAt === 0 && sent >= N / 8) {
          a.child.kill("SIGSTOP");
          frozenAt = Date.now();
        }
      });
      // Stored while `a` is still frozen: its share was taken over, not left waiting for it.
      await waitFor(`all ${N / 2} entries while frozen`, async () => (await store.countEntries()) >= N / 2, 25_000);
      const retired = b.logged("retired the session of a gone collector: its share goes to the others")[0];
      expect(retired).toMatchObject({ sessionPresent: true });

      a.child.kill("SIGCONT");
      const exit = await a.exited;
      expect(exit.code).toBe(3);
      expect(a.logged("standing down: our lease was taken over, another collector has our session")).toHaveLength(1);
      // It did not connect again: `b` was never pushed off the session it took, and `a` did not reconnect.
      expect(a.lines.filter((l) => l.includes('"msg":"connected"'))).toHaveLength(1);

      // After it: everything still goes to `b` (and `a`'s retired session holds nothing).
      const second = entries(N / 2, N / 2);
      await publishPaced(pub, second, () => undefined);
      await waitFor(`all ${N} entries`, async () => (await store.countEntries()) >= N, 25_000);
      expect(await storedIds(store, [...first, ...second])).toEqual({ rows: N, distinct: N, exact: true });
      process.stdout.write(`[takeover frozen] SIGSTOP -> retired ${msOf(retired) - frozenAt} ms; stored ${N}/${N}\n`);
    } finally {
      await pub.endAsync();
      await store.close();
      await drop();
    }
  }, 60_000);
});
