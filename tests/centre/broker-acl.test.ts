/**
 * The README's Mosquitto ACL, on a real broker: a gate's login may publish under its own device only, so with
 * the collector's topic check a gate can never report for another device. Also proves the collector works with
 * a login that may only read.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Collector } from "../../src/centre/collector.js";
import { SqliteEntryStore } from "../../src/centre/sqlite-entry-store.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { makeEntry } from "./generate.js";
import { memoryLogger, waitFor } from "./mqtt-support.js";

const dir = mkdtempSync(join(tmpdir(), "qrgate-acl-"));
let broker: TestBroker;

beforeAll(async () => {
  const passwd = join(dir, "passwd");
  writeFileSync(passwd, "");
  for (const [user, pw] of [["gate-4", "g4"], ["centre", "c"]] as const) execFileSync("mosquitto_passwd", ["-b", passwd, user, pw]);
  const acl = join(dir, "acl");
  // As in the README ("Binding each gate to its own topics").
  writeFileSync(
    acl,
    [
      "pattern write qrgate/v1/+/%u/#",
      "pattern read  qrgate/v1/+/%u/cmd",
      "pattern read  qrgate/v1/+/all/cmd",
      "pattern read  qrgate/v1/status/#",
      "pattern read  qrgate/v1/keys",
      "user centre",
      "topic read qrgate/v1/#",
      "topic write qrgate/v1/_collectors/#",
      "",
    ].join("\n"),
  );
  broker = await startBroker({ extra: [`password_file ${passwd}`, `acl_file ${acl}`] });
});

afterAll(async () => {
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
});

it("lets gate-4 write only under its own device, and the collector store only that", async () => {
  const store = new SqliteEntryStore(join(dir, "centre.db"));
  const { logger } = memoryLogger();
  const collector = new Collector({ store, url: broker.url, logger, group: "acl", clientId: "acl-collector", username: "centre", password: "c" });
  await collector.start();
  const gate = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: "gate-4", username: "gate-4", password: "g4" });
  try {
    const own = makeEntry({ site: "site-a", device: "gate-4" });
    const other = makeEntry({ site: "site-a", device: "gate-5", tsMs: Date.parse("2021-08-01T03:00:00Z") });
    await gate.publishAsync("qrgate/v1/site-a/gate-4/entry", JSON.stringify(own), { qos: 1 });
    // MQTT 5 PUBACK reason 0x87: not authorized.
    await expect(gate.publishAsync("qrgate/v1/site-a/gate-5/entry", JSON.stringify(other), { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await waitFor("gate-4's entry", async () => (await store.countEntries()) === 1);
    const range = { fromMs: 0, toMs: Date.parse("2030-01-01T00:00:00Z") };
    expect((await store.entriesAtSite("site-a", range)).map((e) => e.device)).toEqual(["gate-4"]);
  } finally {
    await gate.endAsync();
    await collector.stop();
    await store.close();
  }
});
