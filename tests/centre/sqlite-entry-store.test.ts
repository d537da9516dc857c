import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PURGE_MAX_ROWS } from "../../src/centre/purge-pace.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { entryStoreContract } from "./entry-store-contract.js";
import { makeEntry } from "./generate.js";

const dirs = new Map<object, string>();

entryStoreContract("SQLite file", {
  create() {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-centre-"));
    const store = new SqliteEntryStore(join(dir, "centre.db"));
    dirs.set(store, dir);
    return Promise.resolve(store);
  },
  async destroy(store) {
    await store.close();
    const dir = dirs.get(store);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  },
});

describe.each([
  ["a file, on a worker thread", "centre.db"],
  ["in memory, on the event loop between its turns", ":memory:"],
])("SQLite retention purge: %s", (_name, file) => {
  const DAY = 86_400_000;
  const OLD = Date.parse("2021-08-01T00:00:00.000Z");
  const ROWS = 60_000;
  let dir: string;
  let store: SqliteEntryStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-purge-"));
    store = new SqliteEntryStore(file === ":memory:" ? file : join(dir, file));
    await store.migrate();
    // A day of old entries, written in bulk (what a city's day looks like, at a test's scale).
    store.database.exec(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS - 1})
       INSERT INTO entries (id, ts_ms, site, device, door, decision, reason, kind, subject, latency_ms, status_version, stale, received_ms)
       SELECT printf('00000000-0000-7000-8000-%012x', i), ${OLD} + i, 'site-' || (i % 7), 'gate-1', 'main', 'allow', 'ok',
              'cccd', printf('%012d', 100000000000 + i % 1000), 10.0, 1, 0, ${OLD} + i
       FROM n`,
    );
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets the event loop run during the purge, in chunks, and an entry committed meanwhile is stored", async () => {
    let done = false;
    const purged = store.purge(OLD + DAY).then((r) => {
      done = true;
      return r;
    });
    let turns = 0;
    let committedWhilePurging = false;
    const fresh = makeEntry({ tsMs: OLD + 2 * DAY });
    while (!done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      turns++;
      if (turns === 2) {
        // What the collector does with a message that arrives during the purge.
        expect(await store.insertEntries([fresh])).toBe(1);
        committedWhilePurging = !done;
      }
    }
    expect(await purged).toEqual({ entries: ROWS, events: 0, rejected: 0 });
    expect(committedWhilePurging).toBe(true);
    // No chunk deletes more than PURGE_MAX_ROWS, and the loop turned at least once per chunk.
    expect(store.lastPurge.chunks).toBeGreaterThan(ROWS / PURGE_MAX_ROWS);
    expect(turns).toBeGreaterThanOrEqual(Math.floor(ROWS / PURGE_MAX_ROWS));
    expect(await store.entriesOfSubject(fresh.subject!, { fromMs: OLD, toMs: OLD + 3 * DAY })).toEqual([fresh]);
  });
});
