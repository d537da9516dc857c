/**
 * A collector with a lease to respect (`mayConnect`, take-over on) reconnects by itself after the broker goes away,
 * asking first; once the lease is gone it gives the connection up instead, and says so.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Collector } from "../../src/centre/collector.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry, subjectId } from "./generate.js";
import { connectPublisher, memoryLogger, publishEntries, waitFor } from "./mqtt-support.js";

const dir = mkdtempSync(join(tmpdir(), "qrgate-fencing-"));
let broker: TestBroker;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const batch = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + from + i, subject: subjectId(i) }));

it("reconnects while the lease holds, and gives the connection up once it does not", async () => {
  const store = new SqliteEntryStore(join(dir, "centre.db"));
  const { logger, lines } = memoryLogger();
  let ours = true;
  let asked = 0;
  let fenced = 0;
  const collector = new Collector({
    store,
    url: broker.url,
    logger,
    group: "fence",
    clientId: "fence-a",
    mayConnect: () => {
      asked += 1;
      return ours;
    },
    onFenced: () => (fenced += 1),
  });
  await collector.start();
  expect(asked).toBe(1);
  const pub = await connectPublisher(broker.url);
  await publishEntries(pub, batch(20, 0));
  await waitFor("20 entries", async () => (await store.countEntries()) === 20);

  // The broker restarts: the collector asks, connects again, and collects again.
  await broker.stop();
  await broker.start();
  await waitFor("a second CONNACK", () => lines.filter((l) => l.includes('"msg":"connected"')).length === 2);
  expect(asked).toBeGreaterThanOrEqual(2);
  await waitFor("the publisher back", () => pub.connected);
  await publishEntries(pub, batch(20, 1000));
  await waitFor("40 entries", async () => (await store.countEntries()) === 40);

  // The lease is gone: after the next drop, no CONNECT, and `onFenced`.
  ours = false;
  await broker.stop();
  await waitFor("fenced", () => fenced === 1);
  await broker.start();
  expect(lines.filter((l) => l.includes('"msg":"connected"'))).toHaveLength(2);
  expect(lines.some((l) => l.includes("fenced: the session is no longer ours"))).toBe(true);
  await pub.endAsync();
  await collector.stop();
  await store.close();
});
