/**
 * Two gates as users run them (`qrgate run`, codes on standard input) against a real Mosquitto: retained health,
 * a pass used at one gate refused `replayed` at the other, bad messages on the site topic, and `qrgate fleet
 * --once --json` seeing both online, then one offline within 5 s of a SIGKILL.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HealthMessage } from "../../src/contract/health.js";
import type { DeviceRow } from "../../src/fleet/fleet-view.js";
import { generateIssuerKeyPair, writeIssuerKeyFiles } from "../../src/issuer/key-files.js";
import { signPass } from "../../src/issuer/pass-signer.js";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const STATUS_CSV = ["id,status,doses,last_dose,recovered_on,dob,zone,flags", "001099004567,clear,3,2022-01-10,,1999-12-30,green,staff"].join("\n");

describe("a site of two gates over a real Mosquitto", () => {
  let dir: string;
  let broker: TestBroker;
  let sub: MqttClient;
  const gates: Record<string, CliChild> = {};
  const health = new Map<string, HealthMessage>();
  const events: Array<{ topic: string; msg: Record<string, unknown> }> = [];
  const offlineAt = new Map<string, number>();
  let issuer: ReturnType<typeof generateIssuerKeyPair>;

  const decisions = (g: CliChild) => g.logs().filter((l) => l.msg === "allowed" || l.msg === "denied");
  const scan = async (name: string, code: string): Promise<Record<string, unknown>> => {
    const g = gates[name]!;
    const before = decisions(g).length;
    g.proc.stdin!.write(code + "\n");
    await waitFor(() => decisions(g).length > before, `${name} to decide`);
    return decisions(g)[before]!;
  };
  const fleet = (): DeviceRow[] => {
    const r = runCli(["fleet", "--url", broker.url, "--site", "hq", "--once", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as DeviceRow[];
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-fleet-"));
    broker = await startBroker();
    issuer = generateIssuerKeyPair("EdDSA", "site-issuer");
    const files = await writeIssuerKeyFiles(join(dir, "keys"), issuer);
    writeFileSync(join(dir, "status.csv"), STATUS_CSV);
    sub = mqtt.connect(broker.url, { clientId: "fleet-test-sub", clean: true });
    sub.on("message", (topic, payload) => {
      if (payload.length === 0) return;
      if (topic.endsWith("/state")) {
        const m = JSON.parse(payload.toString("utf8")) as { state: string };
        if (m.state === "offline") offlineAt.set(topic.split("/")[3]!, Date.now());
      } else if (topic.endsWith("/health")) {
        const h = JSON.parse(payload.toString("utf8")) as HealthMessage;
        health.set(h.device, h);
      } else if (topic.endsWith("/event")) {
        events.push({ topic, msg: JSON.parse(payload.toString("utf8")) as Record<string, unknown> });
      }
    });
    await new Promise<void>((resolve, reject) => {
      sub.once("connect", () => sub.subscribe(["qrgate/v1/hq/+/health", "qrgate/v1/hq/+/event", "qrgate/v1/hq/+/state"], { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    });
    for (const name of ["gate-a", "gate-b"]) {
      const gdir = join(dir, name);
      mkdirSync(gdir);
      const config = join(gdir, "config.json");
      writeFileSync(
        config,
        JSON.stringify({
          site: "hq",
          device: name,
          door: "main",
          scanner: { type: "stdin" },
          relay: { type: "sim", pulseMs: 500 },
          mqtt: { url: broker.url, reconnectMs: 200 },
          store: { path: "gate.db" },
          passes: { issuerKeys: files.jwksPath },
          health: { periodS: 2 },
          log: { level: "debug" },
        }),
      );
      const imp = runCli(["status", "import", join(dir, "status.csv"), "--config", config]);
      expect(imp.status).toBe(0);
      gates[name] = spawnCli(["run", "--config", config], { cwd: gdir });
    }
    for (const [name, g] of Object.entries(gates)) {
      await waitFor(() => g.logs().some((l) => l.msg === "gate started") && g.logs().some((l) => l.msg === "mqtt connected"), `${name} to start`);
    }
  });

  afterAll(async () => {
    for (const g of Object.values(gates)) {
      if (g.proc.exitCode === null && g.proc.signalCode === null) {
        g.proc.kill("SIGKILL");
        await g.exited();
      }
    }
    sub?.end(true);
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("publishes retained health with every field, at once on connect", async () => {
    await waitFor(() => health.has("gate-a") && health.has("gate-b"), "health from both gates");
    const h = health.get("gate-a")!;
    expect(Object.keys(h).sort()).toEqual(
      ["alarms", "bootId", "clock", "device", "diskFreeBytes", "door", "lastEntry", "outbox", "periodS", "relay", "scanMs", "scanner", "site", "status", "ts", "uptimeS", "v", "version"],
    );
    expect(h).toMatchObject({ v: 1, site: "hq", device: "gate-a", periodS: 2, scanner: "connected", relay: "off", door: null });
    expect(h.status).toMatchObject({ version: 1, rows: 1, stale: false });
    expect(h.outbox.depth).toBeGreaterThanOrEqual(0);
    expect(h.diskFreeBytes).toBeGreaterThan(0);
    expect(typeof h.clock.synchronised).toBe("boolean");
    expect(h.alarms.map((a) => a.type)).not.toContain("stale_cache");
  });

  it("a pass used at one gate is refused replayed at the other, within a second", async () => {
    const pass = signPass({ privateKey: issuer.privateKey, kid: "site-issuer", alg: "EdDSA", sub: "001099004567", ttlS: 300, nowS: Math.floor(Date.now() / 1000) });
    const atA = await scan("gate-a", pass);
    expect([atA.msg, atA.reason]).toEqual(["allowed", "staff"]);
    const b = gates["gate-b"]!;
    await waitFor(() => b.logs().some((l) => l.msg === "passes used at another gate recorded"), "gate-b to record the pass");
    const recorded = b.logs().find((l) => l.msg === "passes used at another gate recorded")!;
    expect(recorded.from).toBe("gate-a");
    expect((recorded.time as number) - (atA.time as number)).toBeLessThan(1000);
    const atB = await scan("gate-b", pass);
    expect([atB.msg, atB.reason]).toEqual(["denied", "replayed"]);
  });

  it("health then carries the last entry and the scan latency", async () => {
    await waitFor(() => health.get("gate-a")?.lastEntry !== null, "gate-a health with its last entry");
    const h = health.get("gate-a")!;
    expect(h.lastEntry).toMatchObject({ decision: "allow", reason: "staff" });
    expect(h.scanMs.count).toBe(1);
    expect(h.scanMs.p99).toBeGreaterThan(0);
  });

  it("refuses malformed and oversized messages on the site topic with an event, and keeps deciding", async () => {
    const topic = "qrgate/v1/hq/all/used-passes";
    const bad = [
      "not json",
      "[]",
      JSON.stringify({ v: 2, ts: new Date().toISOString(), site: "hq", device: "x", passes: [] }),
      JSON.stringify({ v: 1, ts: new Date().toISOString(), site: "other", device: "x", passes: [{ h: "a".repeat(64), exp: 1 }] }),
      JSON.stringify({ v: 1, ts: new Date().toISOString(), site: "hq", device: "x", passes: [{ h: "zz", exp: 1 }] }),
      JSON.stringify({ v: 1, ts: new Date().toISOString(), site: "hq", device: "x", passes: [{ h: "a".repeat(64), exp: 9e15 }] }),
      "x".repeat(100_000),
    ];
    for (const p of bad) sub.publish(topic, p, { qos: 1 });
    await waitFor(() => events.some((e) => e.topic === "qrgate/v1/hq/gate-b/event" && e.msg.event === "bad_message"), "a bad_message event from gate-b");
    const b = gates["gate-b"]!;
    await waitFor(() => b.logs().filter((l) => l.msg === "refused a message on the site's used-passes topic").length >= bad.length, "every bad message refused");
    // One event for the burst, not one each: a flood must not fill the outbox.
    expect(events.filter((e) => e.topic === "qrgate/v1/hq/gate-b/event" && e.msg.event === "bad_message")).toHaveLength(1);
    expect(b.proc.exitCode).toBeNull();
    const pass = signPass({ privateKey: issuer.privateKey, kid: "site-issuer", alg: "EdDSA", sub: "001099004567", ttlS: 300, nowS: Math.floor(Date.now() / 1000) });
    expect((await scan("gate-b", pass)).reason).toBe("staff");
  });

  it("qrgate fleet --once --json lists both gates online with their health", () => {
    const rows = fleet();
    expect(rows.map((r) => [r.site, r.device, r.state, r.silent])).toEqual([
      ["hq", "gate-a", "online", false],
      ["hq", "gate-b", "online", false],
    ]);
    const a = rows[0]!;
    expect(a.statusVersion).toBe(1);
    expect(a.outboxDepth).toBeGreaterThanOrEqual(0);
    expect(a.lastEntry).toMatchObject({ decision: "allow", reason: "staff" });
    expect(a.scanP99Ms).toBeGreaterThan(0);
    expect(Date.parse(a.since!)).toBeGreaterThan(0);
  });

  it("shows a gate killed with SIGKILL as offline within 5 s", async () => {
    const b = gates["gate-b"]!;
    const t0 = Date.now();
    b.proc.kill("SIGKILL");
    await b.exited();
    await waitFor(() => fleet().find((r) => r.device === "gate-b")?.state === "offline", "gate-b offline in the fleet view", 10_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(fleet().find((r) => r.device === "gate-a")?.state).toBe("online");
  });

  // A frozen process sends no FIN, like a gate whose power or cable was cut: only the keepalive (default 2 s)
  // tells the broker. Nominally 1.5 x keepalive; Mosquitto 2.0.11's keepalive sweep was measured at 2.3-7.8 s
  // here, so the bound is the one the default keepalive guarantees with that broker, not the 5 s goal.
  it("marks a frozen gate (no FIN, as in a power cut) offline within seconds, by its 2 s keepalive", async () => {
    const a = gates["gate-a"]!;
    const t0 = Date.now();
    a.proc.kill("SIGSTOP");
    try {
      await waitFor(() => offlineAt.has("gate-a"), "the broker to publish gate-a's will", 15_000);
      const elapsed = offlineAt.get("gate-a")! - t0;
      console.log(`frozen gate's will published after ${elapsed} ms`);
      expect(elapsed).toBeLessThan(10_000);
      expect(fleet().find((r) => r.device === "gate-a")?.state).toBe("offline");
    } finally {
      a.proc.kill("SIGKILL");
      await a.exited();
    }
  });
});

describe("qrgate fleet, bad input", () => {
  it.each([
    [[], /--url is required/],
    [["--url", "http://broker"], /expected mqtt:\/\//],
    [["--url", "mqtt://127.0.0.1:1", "--site", "Main Site"], /--site 'Main Site'/],
    [["--url", "mqtt://127.0.0.1:1", "--colour"], /Unknown option '--colour'/],
  ])("refuses %j with one line and exit 2", (args, message) => {
    const r = runCli(["fleet", ...args]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("says the broker cannot be reached, exit 1", () => {
    const r = runCli(["fleet", "--url", "mqtt://127.0.0.1:1", "--once", "--json"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot reach mqtt:\/\/127\.0\.0\.1:1/);
    expect(r.stdout).toBe("");
  });
});
