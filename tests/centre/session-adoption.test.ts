/**
 * Taking a gone collector's session over (session-adoption.ts) on a real Mosquitto: what its session held is
 * stored, the session is retired (the broker forgets it), and the end of its queue is found by the drain marker,
 * or, when the login may not write the marker (the README's read-only centre login), by quiet.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../../src/centre/collector.js";
import { SessionAdoption } from "../../src/centre/session-adoption.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry, subjectId } from "./generate.js";
import { memoryLogger, publishEntries } from "./mqtt-support.js";

const dir = mkdtempSync(join(tmpdir(), "qrgate-adopt-"));
let broker: TestBroker;

beforeAll(async () => {
  const passwd = join(dir, "passwd");
  writeFileSync(passwd, "");
  for (const [user, pw] of [["centre", "c"], ["reader", "r"], ["fleet", "f"]] as const) execFileSync("mosquitto_passwd", ["-b", passwd, user, pw]);
  const acl = join(dir, "acl");
  writeFileSync(
    acl,
    ["user fleet", "topic write qrgate/v1/#", "user centre", "topic read qrgate/v1/#", "topic write qrgate/v1/_collectors/#", "user reader", "topic read qrgate/v1/#", ""].join("\n"),
  );
  broker = await startBroker({ extra: [`password_file ${passwd}`, `acl_file ${acl}`] });
});

afterAll(async () => {
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  { login: "centre", password: "c", drainedBy: "marker" },
  { login: "reader", password: "r", drainedBy: "idle" },
])("with the $login login", ({ login, password, drainedBy }) => {
  it(`stores what the gone collector's session held, retires it (drained by ${drainedBy})`, async () => {
    const store = new SqliteEntryStore(join(dir, `${login}.db`));
    const group = `adopt-${login}`;
    const name = `${group}-gone`;
    const creds = { username: login, password };
    // The collector that will be gone: subscribes, then its process "dies" (the connection just drops).
    const gone = new Collector({ store, url: broker.url, logger: memoryLogger().logger, group, clientId: name, ...creds });
    await gone.start();
    await gone.abandon();
    const fleet = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `fleet-${login}`, username: "fleet", password: "f" });
    const entries = Array.from({ length: 300 }, (_, i) => makeEntry({ tsMs: Date.parse("2021-08-01T02:00:00Z") + i, subject: subjectId(i) }));
    await publishEntries(fleet, entries);
    await fleet.endAsync();
    expect(await store.countEntries()).toBe(0);

    const { logger, lines } = memoryLogger();
    const adoption = new SessionAdoption({ store, url: broker.url, logger, group, root: "qrgate/v1", name, holds: () => true, idleMs: 300, ...creds });
    const r = await adoption.run();
    expect(r).toMatchObject({ sessionPresent: true, entriesNew: 300, drainedBy });
    if (drainedBy === "marker") expect(r).toMatchObject({ received: 300, entriesDuplicate: 0 });
    // The reader's refused marker makes Mosquitto drop the connection; what was committed but not yet acknowledged
    // then comes again on the next connection and is stored once (commits run off the event loop, so some are).
    else expect(r.received).toBe(300 + r.entriesDuplicate);
    expect(await store.countEntries()).toBe(300);
    expect(lines.some((l) => l.includes("retired the session of a gone collector"))).toBe(true);

    // The broker forgot the session: connecting with its client id finds none.
    const probe = mqtt.connect(broker.url, { protocolVersion: 5, clientId: name, clean: false, ...creds, properties: { sessionExpiryInterval: 0 } });
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => probe.once("connect", resolve));
    expect(connack.sessionPresent).toBe(false);
    await probe.endAsync();
    await store.close();
  });
});
