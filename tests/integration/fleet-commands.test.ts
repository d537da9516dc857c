/**
 * Signed commands and issuer key sync over a real Mosquitto, with `qrgate cmd` and `qrgate keys publish` run as a
 * user runs them: executed when genuine, refused (event, answer, nothing done) when unsigned, expired, replayed (also
 * after a restart), wrongly addressed, retained, oversized or malformed.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeBroker, connectBroker } from "../../src/centre/broker-client.js";
import { commandTopic, keysTopic } from "../../src/contract/sync-topics.js";
import { MESSAGE_TYPE } from "../../src/core/sync-messages.js";
import type { SimRelay } from "../../src/drivers/relay/sim-relay.js";
import { signCentreMessage } from "../../src/issuer/centre-key.js";
import { generateIssuerKeyPair, publicJwkOf, writeIssuerKeyFiles } from "../../src/issuer/key-files.js";
import { signPass } from "../../src/issuer/pass-signer.js";
import { runCli, spawnCli } from "../support/cli.js";
import { FleetGate, makeCentreKey, Watcher, type CentreKeys } from "../support/fleet-gate.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const ROOT = "qrgate/v1";
const ID = "001099012345";
const CARD = `${ID}|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hà Nội|15062021`;

describe("signed commands and key sync", () => {
  let broker: TestBroker;
  let keys: CentreKeys;
  let pub: MqttClient;
  let watcher: Watcher;
  let site = "";
  let siteNo = 0;
  let n = 0;
  const gates: FleetGate[] = [];
  const newSite = (): string => (site = `cmd-site-${++siteNo}`);
  const gate = async (opts: Partial<ConstructorParameters<typeof FleetGate>[0]> = {}): Promise<FleetGate> => {
    const g = new FleetGate({ brokerUrl: broker.url, centrePublicKey: keys.jwksPath, site, ...opts });
    gates.push(g);
    await g.start();
    await waitFor(() => g.connected(), "the gate to connect");
    return g;
  };
  const command = (over: Record<string, unknown> = {}, key = keys.privateKey) => {
    const nowS = Math.floor(Date.now() / 1000);
    const id = `t-${++n}`;
    return { id, text: signCentreMessage(key, { type: MESSAGE_TYPE.command, id, site, device: "gate-1", op: "lockdown", args: {}, iat: nowS, exp: nowS + 60, ...over }) };
  };
  const send = (text: string, device = "gate-1", retain = false) => pub.publishAsync(commandTopic(ROOT, site, device), text, { qos: 1, retain });
  // Not runCli: it blocks this process, which runs the gates that must answer.
  const run = async (args: string[]) => {
    const c = spawnCli(args);
    const status = await c.exited();
    await new Promise((r) => setImmediate(r));
    return { status, stdout: c.stdout.map((l) => l + "\n").join(""), stderr: c.stderr.join("\n") };
  };
  const cli = (...args: string[]) => run(["cmd", "--url", broker.url, "--key", keys.privateKeyPath, "--site", site, ...args]);
  const manualEntries = (g: FleetGate): number => {
    const db = new Database(g.storePath, { readonly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM entries WHERE reason = 'manual'").get() as { n: number }).n;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    broker = await startBroker();
    keys = await makeCentreKey(mkdtempSync(join(tmpdir(), "qrgate-centre-")));
    pub = await connectBroker(broker.url, "test-commander");
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

  it("qrgate cmd open: the door pulses, a manual entry is journaled and published, the answer printed", async () => {
    newSite();
    const g = await gate();
    const r = await cli("--device", "gate-1", "open");
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^command \S+ \(open\) to cmd-site-\d+\/gate-1\ngate-1: ok\n$/);
    expect(r.status).toBe(0);
    expect((g.app.relay as SimRelay).levels).toContain(true);
    await waitFor(() => watcher.entries.some((e) => e.site === site && e.reason === "manual"), "the manual entry on the entry topic");
    const e = watcher.entries.find((x) => x.site === site && x.reason === "manual");
    expect(e).toMatchObject({ decision: "allow", kind: "unknown", subject: null, device: "gate-1" });
  });

  it("lockdown denies everyone with reason lockdown, survives a restart, and normal ends it", async () => {
    newSite();
    const g = await gate();
    expect(g.scan(CARD).reason).toBe("unknown_subject");
    expect((await cli("--device", "gate-1", "lockdown")).status).toBe(0);
    expect(g.scan(CARD)).toMatchObject({ decision: "deny", reason: "lockdown" });
    await g.stop();
    const again = await gate({ storePath: g.storePath });
    expect(again.scan(CARD).reason).toBe("lockdown");
    expect((await cli("--all", "normal")).stdout).toMatch(/gate-1: ok/);
    expect(again.scan(CARD).reason).toBe("unknown_subject");
  });

  it("refuses a command signed by another key, an expired one and a wrongly addressed one: reported, answered, not executed", async () => {
    newSite();
    const g = await gate();
    const forged = command({}, generateKeyPairSync("ed25519").privateKey);
    await send(forged.text);
    await watcher.event("command_refused", new RegExp(`command ${forged.id} refused: not signed by the centre`));
    expect(await watcher.result(forged.id)).toMatchObject({ ok: false });
    const nowS = Math.floor(Date.now() / 1000);
    const expired = command({ iat: nowS - 600, exp: nowS - 300 });
    await send(expired.text);
    await watcher.event("command_refused", new RegExp(`command ${expired.id} refused: expired`));
    expect((await watcher.result(expired.id)).error).toMatch(/^expired/);
    const other = command({ device: "gate-2" });
    await send(other.text);
    await watcher.event("command_refused", new RegExp(`command ${other.id} refused: addressed to gate-2`));
    const otherSite = command({ site: "elsewhere", device: "all" });
    await send(otherSite.text, "all");
    await watcher.event("command_refused", new RegExp(`command ${otherSite.id} refused: addressed to elsewhere/all`));
    const unsigned = `{"id":"plain-1","op":"lockdown","site":"${site}","device":"gate-1"}`;
    await send(unsigned);
    await watcher.event("command_refused", /command plain-1 refused: malformed/);
    expect(g.app.gate.currentMode).toBe("normal");
    expect(g.scan(CARD).reason).toBe("unknown_subject");
  });

  it("refuses a replayed command, also after a restart", async () => {
    newSite();
    const g = await gate();
    const c = command({ op: "open" });
    await send(c.text);
    expect(await watcher.result(c.id)).toEqual({ topic: `${ROOT}/${site}/gate-1/cmd/result`, id: c.id, ok: true });
    await send(c.text);
    await watcher.event("command_refused", new RegExp(`command ${c.id} refused: replayed`));
    await g.stop();
    const again = await gate({ storePath: g.storePath });
    const before = watcher.events.length;
    await send(c.text);
    // Other alarms (the clock, at start) may arrive too: look for the refusal among what came after the restart.
    const refusal = new RegExp(`command ${c.id} refused: replayed`);
    await waitFor(() => watcher.events.slice(before).some((e) => refusal.test(e.detail)), "the refusal after the restart");
    expect(manualEntries(again)).toBe(1);
  });

  it("a retained command is executed once, live, and never again on reconnect", async () => {
    newSite();
    const g = await gate();
    const c = command({ op: "open" });
    await send(c.text, "gate-1", true);
    expect((await watcher.result(c.id)).ok).toBe(true);
    await broker.stop();
    await broker.start();
    await closeBroker(pub);
    pub = await connectBroker(broker.url, "test-commander");
    await waitFor(() => g.connected(), "the gate to reconnect");
    await watcher.event("command_refused", new RegExp(`command ${c.id} \\(open\\) ignored: a retained copy`));
    await g.stop();
    const again = await gate({ storePath: g.storePath });
    expect(again.connected()).toBe(true);
    expect(manualEntries(again)).toBe(1);
    await send("", "gate-1", true);
  });

  it("qrgate cmd --all waits for every online gate and exits 4 when one does not answer", async () => {
    newSite();
    await gate();
    await gate({ device: "gate-2" });
    const ok = await cli("--all", "sync");
    expect(ok.stdout).toMatch(/gate-1: ok\ngate-2: ok\n$/);
    expect(ok.status).toBe(0);
    const silent = await cli("--device", "gate-9", "sync", "--timeout", "1s");
    expect(silent.stdout).toMatch(/gate-9: no answer within 1s/);
    expect(silent.status).toBe(4);
    expect((await cli("--device", "gate-1", "explode")).status).toBe(2);
    expect((await cli("--all", "--device", "gate-1", "open")).stderr).toMatch(/exactly one of --device D and --all/);
  });

  it("oversized and malformed payloads on the command and key topics are refused with an event; the gate keeps deciding", async () => {
    newSite();
    const g = await gate();
    await send(Buffer.alloc(64 * 1024, 0x7b) as unknown as string);
    await watcher.event("sync_refused", new RegExp(`${site}/gate-1/cmd: payload of 65536 bytes is over`));
    await send("\u0000\u00ff not json", "all");
    await watcher.event("command_refused", /refused: malformed/);
    await pub.publishAsync(keysTopic(ROOT), Buffer.alloc(300 * 1024, 0x41), { qos: 1 });
    await watcher.event("sync_refused", /qrgate\/v1\/keys: payload of 307200 bytes is over/);
    await pub.publishAsync(keysTopic(ROOT), signCentreMessage(keys.privateKey, { type: MESSAGE_TYPE.keys, version: 5, ts: 1, keys: { keys: [{ kty: "oct", k: "AA" }] } }), { qos: 1 });
    await watcher.event("sync_refused", /issuer key set 5 refused: keys\[0\]/);
    expect(g.scan(CARD).reason).toBe("unknown_subject");
  });

  it("qrgate keys publish replaces a running gate's issuer keys without a restart; forged and older sets are refused", async () => {
    newSite();
    const dir = mkdtempSync(join(tmpdir(), "qrgate-issuers-"));
    const a = generateIssuerKeyPair("EdDSA", "issuer-a");
    const b = generateIssuerKeyPair("ES256", "issuer-b");
    const fileA = await writeIssuerKeyFiles(join(dir, "a"), a);
    const g = await gate({ issuerKeys: fileA.jwksPath });
    const pass = (k: typeof a, jti: string) => signPass({ privateKey: k.privateKey, kid: k.kid, alg: k.alg, sub: ID, ttlS: 300, nowS: Math.floor(Date.now() / 1000), jti });
    expect(g.scan(pass(a, "p1")).reason).not.toMatch(/unknown_key|bad_signature/);
    writeFileSync(join(dir, "b.jwks.json"), JSON.stringify({ keys: [publicJwkOf(b)] }));
    const r = await run(["keys", "publish", join(dir, "b.jwks.json"), "--url", broker.url, "--key", keys.privateKeyPath]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/published issuer key set version (\d+) \(1 keys\)/);
    const version = Number(/version (\d+)/.exec(r.stdout)?.[1]);
    await waitFor(() => g.app.feeds?.keys.version() === version, "the key set to be applied");
    expect(g.scan(pass(a, "p2")).reason).toBe("unknown_key");
    expect(g.scan(pass(b, "p3")).reason).toBe("unknown_subject");

    const forged = signCentreMessage(generateKeyPairSync("ed25519").privateKey, { type: MESSAGE_TYPE.keys, version: version + 1, ts: 1, keys: { keys: [publicJwkOf(a)] } });
    await pub.publishAsync(keysTopic(ROOT), forged, { qos: 1 });
    await watcher.event("sync_refused", /issuer key set refused \(signature\)/);
    const older = signCentreMessage(keys.privateKey, { type: MESSAGE_TYPE.keys, version: version - 1, ts: 1, keys: { keys: [publicJwkOf(a)] } });
    await pub.publishAsync(keysTopic(ROOT), older, { qos: 1 });
    await watcher.event("sync_refused", new RegExp(`issuer key set ${version - 1} refused: older`));
    expect(g.scan(pass(a, "p4")).reason).toBe("unknown_key");

    // The applied set outlives a restart with no broker to send it again.
    await g.stop();
    await broker.stop();
    const again = new FleetGate({ brokerUrl: broker.url, centrePublicKey: keys.jwksPath, site, storePath: g.storePath, issuerKeys: fileA.jwksPath });
    gates.push(again);
    await again.start();
    expect(again.scan(pass(a, "p5")).reason).toBe("unknown_key");
    expect(again.scan(pass(b, "p6")).reason).toBe("unknown_subject");
    await broker.start();
    await closeBroker(pub);
    pub = await connectBroker(broker.url, "test-commander");
    // Started while the broker was down, it still subscribes once the broker is up.
    const both = signCentreMessage(keys.privateKey, { type: MESSAGE_TYPE.keys, version: version + 1, ts: 1, keys: { keys: [publicJwkOf(a), publicJwkOf(b)] } });
    await pub.publishAsync(keysTopic(ROOT), both, { qos: 1, retain: true });
    await waitFor(() => again.app.feeds?.keys.version() === version + 1, "the gate started offline to take the new set");
    expect(again.scan(pass(a, "p7")).reason).toBe("unknown_subject");
  });

  it("keys gen --kid centre makes the centre key; a gate takes its key set, a lone JWK or PEM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qrgate-centre-gen-"));
    const r = runCli(["keys", "gen", "--kid", "centre", "--out", dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/private key: .*centre\.private\.jwk\.json/);
    expect(runCli(["keys", "gen", "--kid", "centre", "--alg", "ES256", "--out", join(dir, "x")]).status).toBe(2);
    const { parseCentrePublicKey } = await import("../../src/issuer/centre-key.js");
    const { readFileSync } = await import("node:fs");
    const set = readFileSync(join(dir, "issuer-keys.jwks.json"), "utf8");
    const fromSet = parseCentrePublicKey(set);
    expect(fromSet.ok).toBe(true);
    const jwk = JSON.stringify((JSON.parse(set) as { keys: unknown[] }).keys[0]);
    expect(parseCentrePublicKey(jwk).ok).toBe(true);
    if (fromSet.ok) expect(parseCentrePublicKey(fromSet.value.export({ format: "pem", type: "spki" }) as string).ok).toBe(true);
    expect(parseCentrePublicKey(readFileSync(join(dir, "centre.private.jwk.json"), "utf8"))).toMatchObject({ ok: false });
  });
});
