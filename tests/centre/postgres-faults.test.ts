/**
 * The collector on PostgreSQL when the database drops its connection in the middle of a commit
 * (`pg_terminate_backend`, what a server restart or failover does): no crash, nothing acknowledged that was not
 * committed, and every entry stored once after the retry.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Collector } from "../../src/centre/collector.js";
import { PostgresEntryStore } from "../../src/centre/postgres-entry-store.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry, subjectId } from "./generate.js";
import { connectPublisher, memoryLogger, publishEntries, waitFor } from "./mqtt-support.js";
import { dropSchema, PG_URL, randomSchema, schemaUrl } from "./postgres-support.js";

let broker: TestBroker;
const schema = randomSchema();

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await broker.dispose();
  await dropSchema(schema);
});

it("survives its backend being terminated mid-commit, retries, and stores every entry once", async () => {
  const app = `qrgate-test-${randomBytes(4).toString("hex")}`;
  const store = new PostgresEntryStore(schemaUrl(schema), { applicationName: app });
  const { logger, lines } = memoryLogger();
  const collector = new Collector({ store, url: broker.url, logger, group: `pgf${app.slice(-8)}`, clientId: app, maxBackoffMs: 200 });
  await collector.start();
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const pub = await connectPublisher(broker.url);
  try {
    // Hold the table so that the collector's INSERT waits inside its transaction: "mid-commit", for sure.
    await admin.query("BEGIN");
    await admin.query(`LOCK TABLE ${schema}.entries IN ACCESS EXCLUSIVE MODE`);
    const entries = Array.from({ length: 50 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i, subject: subjectId(i) }));
    await publishEntries(pub, entries);
    let pid: number | undefined;
    await waitFor("the collector's INSERT waiting on the lock", async () => {
      const r = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [app],
      );
      pid = r.rows[0]?.pid;
      return pid !== undefined;
    });
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await admin.query("COMMIT");

    await waitFor("all 50 entries after the retry", async () => (await store.countEntries()) === 50);
    expect(collector.stats.commitErrors).toBeGreaterThan(0);
    expect(collector.stats.entriesNew).toBe(50);
    await waitFor("all acknowledged", () => collector.stats.acked === 50);
    expect(lines.some((l) => l.includes('"msg":"commit failed"'))).toBe(true);
  } finally {
    await pub.endAsync();
    await admin.end();
    await collector.stop();
    await store.close();
  }
});

it("names its sessions in pg_stat_activity and sets a statement timeout", async () => {
  const app = `qrgate-test-${randomBytes(4).toString("hex")}`;
  const store = new PostgresEntryStore(schemaUrl(schema), { applicationName: app, statementTimeoutMs: 1234 });
  try {
    const r = await store.query("SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st");
    expect(r.rows[0]).toEqual({ app, st: "1234ms" });
  } finally {
    await store.close();
  }
});
