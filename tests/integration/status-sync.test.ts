/**
 * Status sync over a real Mosquitto: `status publish` (library and CLI) -> signed retained snapshot and deltas ->
 * a running gate's table, and every way a feed can be wrong: forged, older, self-contradicting, a gap, a snapshot
 * interrupted by a stop or a broker outage, oversized and malformed payloads.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeBroker, connectBroker } from "../../src/centre/broker-client.js";
import { publishDelta, publishSnapshot } from "../../src/centre/status-publisher.js";
import { statusChunkTopic, statusDeltaTopic, statusManifestTopic } from "../../src/contract/sync-topics.js";
import { MESSAGE_TYPE, sha256Hex, snapshotHash } from "../../src/core/sync-messages.js";
import { signCentreMessage } from "../../src/issuer/centre-key.js";
import { runCli } from "../support/cli.js";
import { FleetGate, makeCentreKey, Watcher, type CentreKeys } from "../support/fleet-gate.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const ROOT = "qrgate/v1";
const idOf = (n: number): string => `0010990${String(n).padStart(5, "0")}`;
const line = (n: number, status = "clear", doses = 2): string => `${idOf(n)},${status},${doses},2021-09-01,,,,`;
const CARD = (id: string): string => `${id}|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hà Nội|15062021`;
const lines = (from: number, to: number, status = "clear"): string[] => {
  const out: string[] = [];
  for (let n = from; n < to; n++) out.push(line(n, status));
  return out;
};

describe("status sync", () => {
  let broker: TestBroker;
  let keys: CentreKeys;
  let pub: MqttClient;
  let watcher: Watcher;
  let site = "";
  let siteNo = 0;
  const gates: FleetGate[] = [];

  const newSite = (): string => (site = `site-${++siteNo}`);
  const gate = async (opts: Partial<ConstructorParameters<typeof FleetGate>[0]> = {}): Promise<FleetGate> => {
    const g = new FleetGate({ brokerUrl: broker.url, centrePublicKey: keys.jwksPath, site, ...opts });
    gates.push(g);
    await g.start();
    await waitFor(() => g.connected(), "the gate to connect");
    return g;
  };
  const target = (nowMs = Date.now()) => ({ client: pub, root: ROOT, site, privateKey: keys.privateKey, nowMs });

  beforeAll(async () => {
    broker = await startBroker();
    keys = await makeCentreKey(mkdtempSync(join(tmpdir(), "qrgate-centre-")));
    pub = await connectBroker(broker.url, "test-publisher");
    watcher = await Watcher.connect(broker.url);
  });
  afterEach(async () => {
    for (const g of gates.splice(0)) await g.stop();
  });
  afterAll(async () => {
    await closeBroker(pub);
    await watcher.close();
    await broker.dispose();
  });

  it("a published snapshot changes a running gate's decision, and entries carry its version", async () => {
    newSite();
    const g = await gate();
    expect(g.scan(CARD(idOf(1))).reason).toBe("unknown_subject");
    const r = await publishSnapshot(target(), lines(0, 12_000), 1000);
    await waitFor(() => g.version() === r.version, "the snapshot to be swapped in");
    const o = g.scan(CARD(idOf(1)));
    expect(o.reason).toBe("ok");
    expect(o.entry?.statusVersion).toBe(r.version);
    expect(o.entry?.stale).toBe(false);
    expect(g.app.status.meta().rows).toBe(12_000);
    const h = g.app.feeds?.health().status;
    expect(h?.snapshotVersion).toBe(r.version);
    expect(h?.ageMs).toBeGreaterThanOrEqual(0);
  });

  it("qrgate status publish: snapshot then deltas, applied in order by a gate", async () => {
    newSite();
    const g = await gate();
    const dir = mkdtempSync(join(tmpdir(), "qrgate-pub-"));
    writeFileSync(join(dir, "all.csv"), ["id,status,doses,last_dose,recovered_on,dob,zone,flags", ...lines(0, 100)].join("\n"));
    const args = ["--url", broker.url, "--key", keys.privateKeyPath, "--site", site];
    const snap = runCli(["status", "publish", join(dir, "all.csv"), ...args]);
    expect(snap.stderr).toBe("");
    expect(snap.status).toBe(0);
    expect(snap.stdout).toMatch(/published snapshot \d+ for site .*: 100 rows in 1 chunks/);
    await waitFor(() => g.app.status.meta().rows === 100, "the CLI's snapshot to arrive");
    expect(g.scan(CARD(idOf(5))).reason).toBe("ok");

    writeFileSync(join(dir, "d1.csv"), line(5, "f0"));
    writeFileSync(join(dir, "d2.csv"), [line(6, "blocked"), line(500)].join("\n"));
    expect(runCli(["status", "publish", join(dir, "d1.csv"), ...args, "--delta"]).stdout).toMatch(/published delta 1 on snapshot/);
    expect(runCli(["status", "publish", join(dir, "d2.csv"), ...args, "--delta"]).stdout).toMatch(/published delta 2 on snapshot/);
    await waitFor(() => g.app.feeds?.health().status?.seq === 2, "both deltas to be applied");
    expect(g.scan(CARD(idOf(5))).reason).toBe("infected");
    expect(g.scan(CARD(idOf(6))).reason).toBe("blocked");
    expect(g.scan(CARD(idOf(500))).reason).toBe("ok");
    expect(g.app.status.meta().rows).toBe(101);

    writeFileSync(join(dir, "bad.csv"), [line(7), "12345,clear,2,,,,,"].join("\n"));
    const bad = runCli(["status", "publish", join(dir, "bad.csv"), ...args, "--delta"]);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/bad\.csv:2: id: expected 12 digits/);
  });

  it("a gate that was off catches up by itself: the retained snapshot and every delta since", async () => {
    newSite();
    const first = await gate();
    await publishSnapshot(target(), lines(0, 50), 10);
    await waitFor(() => first.app.status.meta().rows === 50, "the first snapshot");
    await first.stop();
    const second = await publishSnapshot(target(), lines(0, 3000), 100);
    const d1 = await publishDelta(target(), [line(1, "f1")]);
    const d2 = await publishDelta(target(), [line(2, "f0")]);
    expect([d1.seq, d2.seq]).toEqual([1, 2]);
    const again = await gate({ storePath: first.storePath });
    await waitFor(() => again.version() === d2.version, "the gate to catch up to the last delta");
    expect(again.app.feeds?.health().status?.snapshotVersion).toBe(second.version);
    expect(again.scan(CARD(idOf(1))).reason).toBe("quarantine");
    expect(again.scan(CARD(idOf(2))).reason).toBe("infected");
    expect(again.app.status.meta().rows).toBe(3000);
  });

  it("refuses a forged snapshot (another key) and a chunk that does not match its manifest: nothing applied", async () => {
    newSite();
    const g = await gate();
    const good = await publishSnapshot(target(), lines(0, 20), 10);
    await waitFor(() => g.version() === good.version, "the genuine snapshot");
    const forger = generateKeyPairSync("ed25519").privateKey;
    const forged = await publishSnapshot({ ...target(), privateKey: forger }, lines(0, 20, "clear").map((l) => l.replace(",clear,", ",f0,")), 10).catch((e: Error) => e);
    expect(forged).not.toBeInstanceOf(Error);
    await watcher.event("sync_refused", /status manifest refused \(signature\)/);
    // A chunk swapped under a genuine manifest.
    const v = good.version + 10;
    const chunk = Buffer.from(lines(100, 110).join("\n"));
    const manifest = { type: MESSAGE_TYPE.snapshot, site, version: v, ts: Date.now(), rows: 10, chunks: [{ rows: 10, sha256: sha256Hex(chunk) }], sha256: snapshotHash([sha256Hex(chunk)]) };
    await pub.publishAsync(statusChunkTopic(ROOT, site, v, 0), Buffer.from(lines(200, 210).join("\n")), { qos: 1, retain: true });
    await pub.publishAsync(statusManifestTopic(ROOT, site), signCentreMessage(keys.privateKey, manifest), { qos: 1, retain: true });
    await watcher.event("sync_refused", new RegExp(`snapshot ${v}: chunk 0 does not match the signed manifest`));
    expect(g.version()).toBe(good.version);
    expect(g.scan(CARD(idOf(3))).reason).toBe("ok");
    expect(g.scan(CARD(idOf(205))).reason).toBe("unknown_subject");
  });

  it("refuses an older snapshot than the one applied", async () => {
    newSite();
    const g = await gate();
    const now = Date.now();
    const r = await publishSnapshot(target(now), lines(0, 10), 10);
    await waitFor(() => g.version() === r.version, "the snapshot");
    const old = { type: MESSAGE_TYPE.snapshot, site, version: r.version - 5000, ts: now - 5000, rows: 0, chunks: [], sha256: snapshotHash([]) };
    await pub.publishAsync(statusManifestTopic(ROOT, site), signCentreMessage(keys.privateKey, old), { qos: 1, retain: true });
    await watcher.event("sync_refused", new RegExp(`status snapshot ${r.version - 5000} refused: older`));
    expect(g.version()).toBe(r.version);
    expect(g.app.status.meta().rows).toBe(10);
  });

  it("a delta after a gap waits, is reported as sync_gap and is not applied", async () => {
    newSite();
    const g = await gate({ gapWaitMs: 300 });
    const r = await publishSnapshot(target(), lines(0, 10), 10);
    await waitFor(() => g.version() === r.version, "the snapshot");
    const delta = (seq: number, rows: string[]) =>
      signCentreMessage(keys.privateKey, { type: MESSAGE_TYPE.delta, site, base: r.version, seq, version: r.version + seq, ts: Date.now(), rows });
    await pub.publishAsync(statusDeltaTopic(ROOT, site, 1), delta(1, [line(1, "f0")]), { qos: 1, retain: true });
    await pub.publishAsync(statusDeltaTopic(ROOT, site, 3), delta(3, [line(3, "f0")]), { qos: 1, retain: true });
    await watcher.event("sync_gap", new RegExp(`missing after ${r.version}/1`));
    expect(g.version()).toBe(r.version + 1);
    expect(g.scan(CARD(idOf(1))).reason).toBe("infected");
    expect(g.scan(CARD(idOf(3))).reason).toBe("ok");
    // The missing one arrives: both apply, in order.
    await pub.publishAsync(statusDeltaTopic(ROOT, site, 2), delta(2, [line(2, "f1")]), { qos: 1, retain: true });
    await waitFor(() => g.version() === r.version + 3, "deltas 2 and 3");
    expect(g.scan(CARD(idOf(3))).reason).toBe("infected");
  });

  it("refuses a self-contradicting delta (one ID twice, different rows) and one for another site", async () => {
    newSite();
    const g = await gate();
    const r = await publishSnapshot(target(), lines(0, 10), 10);
    await waitFor(() => g.version() === r.version, "the snapshot");
    const msg = (over: Record<string, unknown>) =>
      signCentreMessage(keys.privateKey, { type: MESSAGE_TYPE.delta, site, base: r.version, seq: 1, version: r.version + 1, ts: Date.now(), rows: [line(4, "f0"), line(4, "clear")], ...over });
    await pub.publishAsync(statusDeltaTopic(ROOT, site, 1), msg({}), { qos: 1, retain: true });
    await watcher.event("sync_refused", new RegExp(`status delta ${r.version}/1 refused: row 2 gives an ID already given`));
    await pub.publishAsync(statusDeltaTopic(ROOT, site, 1), msg({ site: "elsewhere", rows: [line(4, "f0")] }), { qos: 1, retain: false });
    await watcher.event("sync_refused", /status delta for site elsewhere refused/);
    expect(g.version()).toBe(r.version);
    expect(g.scan(CARD(idOf(4))).reason).toBe("ok");
  });

  it("a snapshot interrupted by a gate stop resumes after the restart; the old table decides until the swap", async () => {
    newSite();
    const g = await gate();
    const first = await publishSnapshot(target(), lines(0, 10), 10);
    await waitFor(() => g.version() === first.version, "the first snapshot");
    const big = await publishSnapshot(target(), lines(0, 60_000, "f1"), 200);
    await waitFor(() => (g.app.feeds?.health().status?.pending?.staged ?? 0) >= 5, "a few chunks to be staged");
    // Mid-way, the gate scans, and the old table decides.
    expect(g.scan(CARD(idOf(1))).reason).toBe("ok");
    await g.stop();
    const staged = (await import("better-sqlite3")).default;
    const db = new staged(g.storePath, { readonly: true });
    const stagedChunks = (db.prepare("SELECT count(*) AS n FROM status_sync_chunks").get() as { n: number }).n;
    const live = (db.prepare("SELECT count(*) AS n FROM status").get() as { n: number }).n;
    db.close();
    expect(stagedChunks).toBeGreaterThan(0);
    expect(stagedChunks).toBeLessThan(300);
    expect(live).toBe(10);
    const again = await gate({ storePath: g.storePath });
    expect(again.scan(CARD(idOf(1))).reason).toBe("ok");
    await waitFor(() => again.version() === big.version, "the resumed snapshot to be swapped in", 30_000);
    expect(again.app.status.meta().rows).toBe(60_000);
    expect(again.scan(CARD(idOf(1))).reason).toBe("quarantine");
  });

  it("a snapshot interrupted by a broker outage completes when the broker is back", async () => {
    newSite();
    const g = await gate();
    const big = await publishSnapshot(target(), lines(0, 60_000), 200);
    await waitFor(() => (g.app.feeds?.health().status?.pending?.staged ?? 0) >= 5, "a few chunks to be staged");
    await broker.stop();
    const during = g.app.feeds?.health().status;
    expect(during?.pending?.staged ?? 300).toBeLessThan(300);
    expect(g.version()).not.toBe(big.version);
    await broker.start();
    await waitFor(() => g.version() === big.version, "the snapshot to complete after the outage", 30_000);
    expect(g.app.status.meta().rows).toBe(60_000);
    // The publishing verbs do not reconnect: a new connection for the tests that follow.
    await closeBroker(pub);
    pub = await connectBroker(broker.url, "test-publisher");
  });

  it("oversized and malformed payloads on every status topic are refused with an event; the gate keeps deciding", async () => {
    newSite();
    const g = await gate();
    const r = await publishSnapshot(target(), lines(0, 10), 10);
    await waitFor(() => g.version() === r.version, "the snapshot");
    const huge = Buffer.alloc(9 * 1024 * 1024, 0x41);
    await pub.publishAsync(statusManifestTopic(ROOT, site), huge, { qos: 1 });
    await watcher.event("sync_refused", new RegExp(`${site}/manifest: payload of ${huge.length} bytes is over`));
    for (const [topic, payload, re] of [
      [statusManifestTopic(ROOT, site), "not a jws", /status manifest refused \(format\)/],
      [statusManifestTopic(ROOT, site), Buffer.from([0xff, 0xfe, 0x00, 0x2e, 0x2e]), /status manifest refused/],
      [statusDeltaTopic(ROOT, site, 9), "{\"seq\":9}", /status delta refused \(format\)/],
      [statusDeltaTopic(ROOT, site, 8), signCentreMessage(keys.privateKey, { type: MESSAGE_TYPE.delta, site, base: "x" }), /status delta refused: base/],
      [statusManifestTopic(ROOT, site), signCentreMessage(keys.privateKey, { type: MESSAGE_TYPE.snapshot, site, version: r.version + 1, ts: 1, rows: 5, chunks: [], sha256: "" }), /contradicts itself/],
      [statusChunkTopic(ROOT, site, r.version, 99), "garbage", null],
    ] as const) {
      await pub.publishAsync(topic, payload, { qos: 1 });
      if (re !== null) await watcher.event("sync_refused", re);
    }
    expect(g.version()).toBe(r.version);
    expect(g.scan(CARD(idOf(2))).reason).toBe("ok");
  });
});
