/**
 * The lease keeper's fencing, on a real SQLite store with the monotonic clock and the renewal timer in the test's
 * hands: a lease lapses locally before anyone else may take it, and a lease taken by another process is let go.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { LeaseKeeper, type LeaseLoss } from "../../src/centre/collector-lease.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { memoryLogger } from "./mqtt-support.js";

let dir: string;
let store: SqliteEntryStore;
let clock = 0;

function keeper(holder = "c-a"): LeaseKeeper {
  return new LeaseKeeper({ store, group: "g", holder, ttlMs: 10_000, logger: memoryLogger().logger, monotonicMs: () => clock });
}

/** Runs due renewal ticks and lets their store calls settle. */
async function tick(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout"] });
  dir = mkdtempSync(join(tmpdir(), "qrgate-lease-"));
  store = new SqliteEntryStore(join(dir, "centre.db"));
  await store.migrate();
  clock = 1_000_000;
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

it("holds its lease while renewals succeed, and counts it lapsed before the store's expiry (a freeze)", async () => {
  const k = keeper();
  const lost: LeaseLoss[] = [];
  expect(await k.acquire("c-a", (why) => lost.push(why))).toBe(true);
  expect(k.holds("c-a")).toBe(true);
  // Renewed every 2 s: still ours 30 s later.
  for (let i = 0; i < 15; i++) {
    clock += 2000;
    await tick(2000);
  }
  expect(k.holds("c-a")).toBe(true);
  expect(lost).toEqual([]);
  // Frozen for 8 s (the TTL minus the margin) since the last renewal started: no longer ours, before the
  // store's 10 s have passed; the next tick lets it go.
  clock += 8000;
  expect(k.holds("c-a")).toBe(false);
  await tick(2000);
  expect(lost).toEqual(["lapsed"]);
  expect(k.names).toEqual([]);
  k.stop();
});

it("lets go of a lease another process of the same collector took (a restart), and never renews it again", async () => {
  const old = keeper();
  const lost: LeaseLoss[] = [];
  expect(await old.acquire("c-a", (why) => lost.push(why))).toBe(true);
  const restarted = keeper();
  expect(await restarted.acquire("c-a", () => undefined)).toBe(true);
  await tick(2000);
  expect(lost).toEqual(["taken"]);
  expect(old.holds("c-a")).toBe(false);
  expect((await store.leases("g"))[0]).toMatchObject({ instance: restarted.instance });
  old.stop();
  restarted.stop();
});

it("releases a lease taken over (the row goes) without calling its onLost", async () => {
  const k = keeper("c-b");
  const lost: LeaseLoss[] = [];
  expect(await k.acquire("c-a", (why) => lost.push(why))).toBe(true);
  await k.release("c-a");
  expect(await store.leases("g")).toEqual([]);
  await tick(4000);
  expect(lost).toEqual([]);
  k.stop();
});
