/**
 * PostgreSQL's day partitions of `entries` (migration 4): the migration of an existing single table with its
 * rows, days made ahead and on demand (a late entry never wedges ingest), and retention by dropping whole days.
 */
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LATEST_VERSION, MIGRATIONS } from "../../src/centre/migrations.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { DAYS_AHEAD, isMissingPartition, listPartitions, utcDay } from "../../src/centre/postgres-partitions.js";
import { isDataError } from "../../src/centre/row-refused.js";
import type { EntryMessage } from "../../src/contract/entry.js";
import { makeEntry, subjectId } from "./generate.js";
import { dropSchema, PG_URL, randomSchema, schemaUrl } from "./postgres-support.js";

const DAY = 86_400_000;
const D0 = Date.parse("2021-08-01T00:00:00.000Z");

let schema: string;
let store: PostgresEntryStore;

beforeEach(() => {
  schema = randomSchema();
  store = new PostgresEntryStore(schemaUrl(schema));
});

afterEach(async () => {
  await store.close();
  await dropSchema(schema);
});

async function partitionNames(): Promise<string[]> {
  const r = await store.query<{ relname: string }>(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'entries'::regclass ORDER BY 1",
  );
  return r.rows.map((x) => x.relname);
}

/** A schema as a qrgate before migration 4 left it: the single `entries` table, holding `rows`. */
async function oldSchema(rows: readonly EntryMessage[], badIds: readonly string[] = []): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(`SET search_path = ${schema}`);
    await c.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)");
    for (const m of MIGRATIONS.filter((x) => x.version <= 3)) {
      for (const sql of m.postgres) await c.query(sql);
      await c.query("INSERT INTO schema_migrations VALUES ($1, $2, 0)", [m.version, m.name]);
    }
    const all = [...rows, ...badIds.map((id) => ({ ...rows[0]!, id }))];
    for (const e of all) {
      await c.query(
        `INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $2)`,
        [e.id, Date.parse(e.ts), e.site, e.device, e.door, e.decision, e.reason, e.kind, e.subject, e.latencyMs, e.statusVersion, e.stale],
      );
    }
  } finally {
    await c.end();
  }
}

describe("migration 4: the single table becomes day partitions", () => {
  it("keeps every row of an existing table, answers the same, and de-duplicates redeliveries", async () => {
    const rows = Array.from({ length: 30 }, (_, i) =>
      makeEntry({ tsMs: D0 + Math.floor(i / 10) * DAY + i * 60_000, subject: subjectId(i % 3), door: i % 2 === 0 ? "main" : "side" }),
    );
    await oldSchema(rows, ["not-a-uuid"]);
    expect(await store.schemaVersion()).toBe(3);
    expect(await store.migrate()).toBe(LATEST_VERSION);

    expect(await store.countEntries()).toBe(30);
    const names = await partitionNames();
    for (const day of ["entries_20210801", "entries_20210802", "entries_20210803"]) expect(names).toContain(day);
    const range = { fromMs: D0, toMs: D0 + 3 * DAY };
    const bySubject = (s: string): EntryMessage[] =>
      rows.filter((e) => e.subject === s).sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts) || (a.id < b.id ? -1 : 1));
    expect(await store.entriesOfSubject(subjectId(1), range)).toEqual(bySubject(subjectId(1)));
    expect((await store.entriesAtSiteDoor({ site: "market-1", door: "side" }, range)).map((e) => e.id)).toEqual(
      rows.filter((e) => e.door === "side").map((e) => e.id),
    );
    // A redelivery of an old entry (same id, same ts) is still the same entry.
    expect(await store.insertEntries(rows.slice(0, 5))).toBe(0);
    // The row that was not a UUID is kept for an admin, not lost and not fatal.
    const rejected = await store.rejectedMessages({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
    expect(rejected.map((r) => [r.topic, r.reason])).toEqual([["migration 4", "id: expected a UUID"]]);
    expect(rejected[0]!.payload.toString()).toContain('"not-a-uuid"');

    const key = await store.query<{ cols: string[]; id_type: string }>(
      `SELECT array_agg(a.attname::text ORDER BY k.n) AS cols, (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
          WHERE attrelid = 'entries'::regclass AND attname = 'id') AS id_type
         FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
         JOIN pg_attribute a ON a.attnum = k.attnum
        WHERE c.conrelid = 'entries'::regclass AND c.contype = 'p' AND a.attrelid = 'entries'::regclass`,
    );
    expect(key.rows[0]).toEqual({ cols: ["id", "ts_ms"], id_type: "uuid" });
    expect((await store.query("SELECT to_regclass('entries_v3') AS t")).rows[0]).toEqual({ t: null });
  });
});

describe("day partitions", () => {
  beforeEach(async () => {
    await store.migrate();
  });

  it("has yesterday, today and the next days made ahead", async () => {
    const days = (await listPartitions(store)).map((p) => utcDay(p.fromMs));
    const today = utcDay(Date.now());
    for (let d = today - 1; d <= today + DAYS_AHEAD; d++) expect(days).toContain(d);
  });

  it("stores a late entry whose day has no partition: the day is made on demand", async () => {
    const late = makeEntry({ tsMs: Date.parse("2020-03-01T10:00:00.000Z") });
    const early = makeEntry({ tsMs: Date.now() + DAY - 1000 });
    expect(await store.insertEntries([late, early, makeEntry({ tsMs: D0 })])).toBe(3);
    expect(await partitionNames()).toEqual(expect.arrayContaining(["entries_20200301", "entries_20210801"]));
    expect(await store.entriesAtDoor(late, { fromMs: Date.parse(late.ts), toMs: Date.parse(late.ts) + 1 })).toEqual([late]);
    expect(await store.insertEntries([late])).toBe(0);
  });

  it("tells a missing day from a refused row", () => {
    const e = Object.assign(new Error('no partition of relation "entries" found for row'), { code: "23514", routine: "ExecFindPartition" });
    expect(isMissingPartition(e)).toBe(true);
    expect(isDataError(e)).toBe(false);
    expect(isDataError(Object.assign(new Error("check"), { code: "23514", routine: "ExecConstraints" }))).toBe(true);
  });

  it("purges entries by dropping whole days, keeping the day that holds the cut-off", async () => {
    const e = (day: number, h: number): EntryMessage => makeEntry({ tsMs: D0 + day * DAY + h * 3_600_000 });
    await store.insertEntries([e(0, 1), e(0, 23), e(1, 2), e(2, 0), e(2, 5), e(3, 1)]);
    await store.insertEvent({ key: "ev", site: "market-1", device: "gate-1", type: "door_forced", tsMs: D0, payload: "{}", receivedMs: D0 });
    // Cut-off at 2021-08-03 03:00: days 0 and 1 go whole, day 2 stays whole (its 00:00 entry too).
    expect(await store.purge(D0 + 2 * DAY + 3 * 3_600_000)).toEqual({ entries: 3, events: 1, rejected: 0 });
    expect(await store.countEntries()).toBe(3);
    const names = await partitionNames();
    expect(names).not.toContain("entries_20210801");
    expect(names).not.toContain("entries_20210802");
    expect(names).toContain("entries_20210803");
    // A straggler for a day already dropped comes back as its own day, and goes at the next purge.
    expect(await store.insertEntries([e(1, 4)])).toBe(1);
    expect(await store.purge(D0 + 2 * DAY)).toEqual({ entries: 1, events: 0, rejected: 0 });
    expect(await store.countEntries()).toBe(3);
  });
});
