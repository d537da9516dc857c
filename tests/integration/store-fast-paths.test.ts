/**
 * The store's and the publisher's shortcuts on the scan path (issue 16, item 4: CPU per entry) keep what they
 * replace: the cached status meta sees every change, the entry and its used-pass message commit together, single
 * rows are written atomically, and the publisher reads the outbox only when it may hold something new.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { EntryMessage } from "../../src/contract/entry.js";
import { openDatabase, type SqliteDb } from "../../src/store/database.js";
import { Journal } from "../../src/store/journal.js";
import { Outbox, type OutboxRow } from "../../src/store/outbox.js";
import { SETTING, Settings } from "../../src/store/settings.js";
import { StatusTable } from "../../src/store/status-table.js";
import { UsedPasses } from "../../src/store/used-passes.js";
import { OutboxPublisher } from "../../src/uplink/outbox-publisher.js";
import { FakeClock } from "../fakes/fake-clock.js";
import { ROW } from "../support/gate-harness.js";

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), "qrgate-fast-")), "gate.db");
const open = (path: string): SqliteDb => openDatabase(path, { synchronous: "FULL" });
const count = (db: SqliteDb, table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

function entry(id: string): EntryMessage {
  return {
    id,
    ts: "2026-11-24T08:00:00.000Z",
    site: "hq",
    device: "gate-1",
    door: "lobby",
    decision: "allow",
    reason: "ok",
    kind: "pass",
    subject: "001099012345",
    latencyMs: 0.5,
    statusVersion: 1,
    stale: false,
  };
}

describe("StatusTable.meta cached across scans", () => {
  it("sees an import committed by another connection (qrgate status import in another process)", () => {
    const path = dbPath();
    const gate = new StatusTable(open(path));
    expect(gate.meta().version).toBe(0);
    expect(gate.meta().version).toBe(0);
    const other = new StatusTable(open(path));
    const stage = other.beginReplace();
    stage.addBatch([ROW("001099012345")]);
    stage.commit(1_000);
    expect(gate.meta()).toEqual({ version: 1, updatedMs: 1_000, rows: 1 });
  });

  it("sees settings written through its own connection, by any Settings on it", () => {
    const db = open(dbPath());
    const table = new StatusTable(db);
    expect(table.meta().version).toBe(0);
    new Settings(db).set(SETTING.statusVersion, 7);
    expect(table.meta().version).toBe(7);
    const stage = table.beginMerge();
    stage.addBatch([ROW("001099012345"), ROW("001099012346")]);
    stage.commit(2_000);
    expect(table.meta()).toEqual({ version: 8, updatedMs: 2_000, rows: 2 });
  });

  it("does not keep a value read inside a transaction that rolled back", () => {
    const db = open(dbPath());
    const table = new StatusTable(db);
    const settings = new Settings(db);
    expect(table.meta().version).toBe(0);
    expect(() =>
      db.transaction(() => {
        settings.set(SETTING.statusVersion, 5);
        expect(table.meta().version).toBe(5);
        throw new Error("abandon");
      })(),
    ).toThrow("abandon");
    expect(table.meta().version).toBe(0);
  });
});

describe("StatusTable.consistent", () => {
  it("runs the reads in one transaction and still sees later imports by another connection", () => {
    const path = dbPath();
    const db = open(path);
    const gate = new StatusTable(db);
    const seen = gate.consistent(() => {
      expect(db.inTransaction).toBe(true);
      return [gate.meta().version, gate.lookup("001099012345")?.status ?? null];
    });
    expect(seen).toEqual([0, null]);
    expect(db.inTransaction).toBe(false);
    const other = new StatusTable(open(path));
    const stage = other.beginReplace();
    stage.addBatch([ROW("001099012345")]);
    stage.commit(3_000);
    expect(gate.consistent(() => [gate.meta().version, gate.lookup("001099012345")?.status ?? null])).toEqual([1, "clear"]);
  });

  it("ends its transaction when the reads throw", () => {
    const db = open(dbPath());
    const gate = new StatusTable(db);
    expect(() => gate.consistent(() => { throw new Error("boom"); })).toThrow("boom");
    expect(db.inTransaction).toBe(false);
  });
});

describe("Journal.record with the messages that follow from the entry", () => {
  it("writes the entry, its message, the used pass and the site message in one transaction, in that order", () => {
    const db = open(dbPath());
    const journal = new Journal(db);
    journal.record(
      { entry: entry("0190a0b0-0000-7000-8000-000000000001"), detail: null, topic: "t/entry", usedPass: { jti: "p1", expiresS: 99 } },
      [{ topic: "t/used", payload: "{}", createdMs: 5 }],
    );
    const rows = new Outbox(db).after(0, 10);
    expect(rows.map((r) => r.topic)).toEqual(["t/entry", "t/used"]);
    expect(count(db, "entries")).toBe(1);
    expect(count(db, "used_passes")).toBe(1);
  });

  it("writes none of them when one fails (the same id journaled twice)", () => {
    const db = open(dbPath());
    const journal = new Journal(db);
    const r = { entry: entry("0190a0b0-0000-7000-8000-000000000002"), detail: null, topic: "t/entry", usedPass: null };
    journal.record(r);
    expect(() => journal.record({ ...r, usedPass: { jti: "p2", expiresS: 99 } }, [{ topic: "t/used", payload: "{}", createdMs: 5 }])).toThrow(
      /journal write failed/,
    );
    expect(count(db, "entries")).toBe(1);
    expect(count(db, "outbox")).toBe(1);
    expect(count(db, "used_passes")).toBe(0);
  });
});

describe("single-row writes without BEGIN/COMMIT", () => {
  it("records one pass heard from the site, and several in one transaction", () => {
    const db = open(dbPath());
    const passes = new UsedPasses(db);
    passes.addRemote([{ h: "a".repeat(64), exp: 10 }]);
    passes.addRemote([{ h: "b".repeat(64), exp: 10 }, { h: "a".repeat(64), exp: 20 }]);
    expect(db.prepare("SELECT jti, expires_s AS e FROM used_passes ORDER BY jti").all()).toEqual([
      { jti: `sha256:${"a".repeat(64)}`, e: 20 },
      { jti: `sha256:${"b".repeat(64)}`, e: 10 },
    ]);
  });

  it("removes one acknowledged row, several, or none", () => {
    const db = open(dbPath());
    const journal = new Journal(db);
    for (let i = 0; i < 4; i++) journal.queueMessage("t", `m${i}`, i);
    const outbox = new Outbox(db);
    const [a, b, c] = outbox.after(0, 10).map((r) => r.seq) as [number, number, number];
    outbox.removeMany([a]);
    outbox.removeMany([b, c]);
    outbox.removeMany([]);
    expect(outbox.after(0, 10).map((r) => r.payload)).toEqual(["m3"]);
  });
});

/** A connected client that records publishes and acknowledges them when told. */
class FakeClient {
  connected = true;
  readonly pending: Array<(e?: Error) => void> = [];
  published: string[] = [];

  publish(_topic: string, payload: string, _opts: unknown, cb: (e?: Error) => void): void {
    this.published.push(payload);
    this.pending.push(cb);
  }

  ackAll(): void {
    for (const cb of this.pending.splice(0)) cb();
  }
}

describe("OutboxPublisher reads the outbox only when it may hold something new", () => {
  interface Setup {
    db: SqliteDb;
    journal: Journal;
    client: FakeClient;
    reads: () => number;
    queue: (n: number) => void;
    publisher: OutboxPublisher;
  }
  function setup(window: number): Setup {
    const db = open(dbPath());
    const journal = new Journal(db);
    const outbox = new Outbox(db);
    let reads = 0;
    const clock = new FakeClock();
    const publisher = new OutboxPublisher(
      {
        after: (seq: number, limit: number): OutboxRow[] => {
          reads++;
          return outbox.after(seq, limit);
        },
        removeMany: (seqs) => outbox.removeMany(seqs),
      },
      { window, ackFlushMs: 50 },
      clock,
      pino({ level: "silent" }),
    );
    const client = new FakeClient();
    publisher.attach(client as unknown as MqttClient);
    let n = 0;
    return {
      db,
      journal,
      client,
      reads: () => reads,
      queue: (k) => {
        for (let i = 0; i < k; i++) journal.queueMessage("t", `m${n++}`, 0);
      },
      publisher,
    };
  }

  it("one read per kick, none for a PUBACK when nothing was written since", () => {
    const s = setup(64);
    s.queue(1);
    s.publisher.kick();
    expect(s.reads()).toBe(1);
    s.client.ackAll();
    expect(s.reads()).toBe(1);
    expect(s.client.published).toEqual(["m0"]);
  });

  it("rows left behind by a full window go out as PUBACKs make room", () => {
    const s = setup(2);
    s.queue(5);
    s.publisher.kick();
    expect(s.client.published).toEqual(["m0", "m1"]);
    s.client.ackAll();
    s.client.ackAll();
    s.client.ackAll();
    expect(s.client.published).toEqual(["m0", "m1", "m2", "m3", "m4"]);
  });

  it("rows the journal hands over are sent on the next nudge without reading them back", () => {
    const s = setup(64);
    s.publisher.kick(); // the first read: the outbox is empty
    expect(s.reads()).toBe(1);
    const rows = s.journal.record(
      { entry: entry("0190a0b0-0000-7000-8000-000000000003"), detail: null, topic: "t/entry", usedPass: null },
      [{ topic: "t/used", payload: "{}", createdMs: 5 }],
    );
    s.publisher.written(rows);
    expect(s.client.published).toEqual([]); // nothing before the relay: the gate nudges after it
    s.publisher.nudge();
    expect(s.reads()).toBe(1);
    expect(s.client.published).toEqual([rows[0]?.payload, "{}"]);
  });

  it("rows handed over before the outbox was read are read back, in order", () => {
    const s = setup(64);
    s.queue(1);
    const rows = s.journal.record({ entry: entry("0190a0b0-0000-7000-8000-000000000004"), detail: null, topic: "t/entry", usedPass: null });
    s.publisher.written(rows);
    s.publisher.nudge();
    expect(s.reads()).toBe(1);
    expect(s.client.published).toEqual(["m0", rows[0]?.payload]);
  });

  it("acknowledged rows go with the next journal write, or back to the flush when it fails", () => {
    const s = setup(64);
    s.queue(2);
    s.publisher.kick();
    s.client.ackAll();
    const acked = s.publisher.takeAcked();
    expect(acked).toHaveLength(2);
    expect(s.publisher.takeAcked()).toEqual([]);
    s.publisher.untake(acked.slice(1));
    s.journal.record({ entry: entry("0190a0b0-0000-7000-8000-000000000005"), detail: null, topic: "t/entry", usedPass: null }, [], acked.slice(0, 1));
    expect(count(s.db, "outbox")).toBe(2); // the entry's, and the one given back
    s.publisher.flushAcks();
    expect(count(s.db, "outbox")).toBe(1);
  });

  it("a wait for idle deletes the acknowledged rows at once, without waiting for the flush timer", async () => {
    const s = setup(64);
    s.queue(3);
    s.publisher.kick();
    s.client.ackAll();
    expect(count(s.db, "outbox")).toBe(3);
    await expect(s.publisher.whenIdle(10)).resolves.toBe(true);
    expect(count(s.db, "outbox")).toBe(0);
  });

  it("a message the client gives up is sent again after the rewind", () => {
    const s = setup(64);
    s.queue(2);
    s.publisher.kick();
    const [first, second] = s.client.pending.splice(0) as [(e?: Error) => void, (e?: Error) => void];
    second();
    first(new Error("gave up"));
    expect(s.client.published).toEqual(["m0", "m1", "m0"]);
  });
});

describe("schema 3", () => {
  it("has no index on used_passes.expires_s, and the purge and the oldest expiry still work", () => {
    const db = open(dbPath());
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'used_passes_expiry'").all()).toEqual([]);
    const passes = new UsedPasses(db);
    passes.addRemote([{ h: "c".repeat(64), exp: 10 }, { h: "d".repeat(64), exp: 30 }]);
    expect(passes.oldestExpiryS()).toBe(10);
    expect(passes.purgeExpired(20)).toBe(1);
    expect(passes.oldestExpiryS()).toBe(30);
  });
});
