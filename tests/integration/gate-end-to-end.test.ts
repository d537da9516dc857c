/**
 * The whole gate as a user runs it: `qrgate status import`, then `qrgate run` as a child process with a serial
 * scanner on a real pseudo-terminal (socat) and a real Mosquitto; entries checked as a real subscriber gets them,
 * across a broker outage.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntryMessage } from "../../src/contract/entry.js";
import { generateIssuerKeyPair, writeIssuerKeyFiles } from "../../src/issuer/key-files.js";
import { signPass } from "../../src/issuer/pass-signer.js";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { openPtyPair, type PtyPair } from "../support/pty.js";
import { waitFor } from "../support/wait.js";

const CARD = (id: string, dob: string, name = "Nguyễn Văn An") =>
  `${id}|123456789|${name}|${dob}|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021`;

const STATUS_CSV = [
  "id,status,doses,last_dose,recovered_on,dob,zone,flags",
  "001099012345,clear,2,2021-09-01,,1990-01-01,green,",
  "079188001234,f0,2,2021-08-20,,1988-03-12,yellow,",
  "001099004567,clear,3,2022-01-10,,1999-12-30,green,staff",
  "001099000111,f1,1,2021-07-01,,1995-05-05,,",
  "001099000222,clear,2,2021-10-01,,1992-02-02,,",
  "001099000333,clear,1,2021-10-01,,1993-03-03,green,",
  "not-an-id,clear,2,,,,,",
].join("\n");

describe("a gate end to end: serial pty -> decision -> journal -> MQTT", () => {
  let dir: string;
  let broker: TestBroker;
  let pty: PtyPair;
  let gate: CliChild;
  let sub: MqttClient;
  const received = new Map<string, EntryMessage>();
  const arrivals: string[] = [];
  const states: Array<Record<string, unknown>> = [];
  let privateKey: Awaited<ReturnType<typeof generateIssuerKeyPair>>;
  let configPath: string;

  const decisionsLogged = () => gate.logs().filter((l) => l.msg === "allowed" || l.msg === "denied").length;
  const scan = async (code: string, suffix = "\r\n") => {
    const before = decisionsLogged();
    pty.write(code + suffix);
    await waitFor(() => decisionsLogged() > before, `the gate to decide on a scan`);
  };
  const entryFor = (i: number) => [...received.values()].sort((a, b) => a.id.localeCompare(b.id))[i];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "qrgate-e2e-"));
    broker = await startBroker();
    pty = await openPtyPair(dir);
    privateKey = generateIssuerKeyPair("EdDSA", "test-issuer");
    const files = await writeIssuerKeyFiles(join(dir, "keys"), privateKey);
    configPath = join(dir, "config.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        site: "hq",
        device: "gate-1",
        door: "lobby",
        scanner: { type: "serial", path: pty.devicePath, baudRate: 9600, suffix: "auto", retryMs: 200 },
        relay: { type: "sim", pulseMs: 500 },
        mqtt: { url: broker.url, reconnectMs: 200 },
        store: { path: "store/gate.db" },
        passes: { issuerKeys: files.jwksPath },
      }),
    );
    writeFileSync(join(dir, "status.csv"), STATUS_CSV);

    sub = mqtt.connect(broker.url, { clientId: "e2e-subscriber", clean: false, reconnectPeriod: 100 });
    sub.on("message", (topic, payload) => {
      if (topic.endsWith("/state")) {
        states.push(JSON.parse(payload.toString("utf8")) as Record<string, unknown>);
        return;
      }
      const e = JSON.parse(payload.toString("utf8")) as EntryMessage;
      arrivals.push(e.id);
      received.set(e.id, e);
    });
    await new Promise<void>((resolve, reject) => {
      sub.once("connect", () => sub.subscribe(["qrgate/v1/+/+/entry", "qrgate/v1/hq/gate-1/state"], { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    });
  });

  afterAll(async () => {
    gate?.proc.kill("SIGTERM");
    await gate?.exited();
    sub?.end(true);
    await pty?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("imports the status CSV, reporting the bad row by line number", () => {
    const r = runCli(["status", "import", join(dir, "status.csv"), "--config", configPath]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/imported 6 rows, rejected 1/);
    expect(r.stderr).toMatch(/status\.csv:8: id: expected 12 digits/);
  });

  it("starts with a serial scanner on the pty", async () => {
    gate = spawnCli(["run", "--config", configPath], { cwd: dir });
    await waitFor(() => gate.logs().some((l) => l.msg === "scanner connected"), "the scanner to connect");
    await waitFor(() => gate.logs().some((l) => l.msg === "mqtt connected"), "the gate to reach the broker");
    await waitFor(() => states.some((m) => m.state === "online"), "the retained online state");
    expect(states.find((m) => m.state === "online")).toMatchObject({ version: expect.any(String) as unknown, bootId: expect.any(String) as unknown });
  });

  it("publishes one entry per scan with the contract's fields, decisions and reasons", async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const pass = signPass({ privateKey: privateKey.privateKey, kid: "test-issuer", alg: "EdDSA", sub: "001099004567", ttlS: 300, nowS });
    await scan(CARD("001099012345", "01011990"));
    await scan(CARD("079188001234", "12031988", "TRẦN THỊ BÌNH"), "\r");
    await scan(CARD("001099999999", "01011990"), "\n");
    await scan(pass);
    await scan(pass.slice(0, 60)); // a truncated pass
    await scan("\u0000\u00ff garbage"); // noise, not even UTF-8 in places
    await scan(CARD("001099000111", "05051995"));
    await scan(CARD("001099000222", "31121999")); // wrong date of birth for that ID
    await waitFor(() => received.size >= 8, "8 entries at the subscriber");

    const got = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => entryFor(i)!);
    expect(got.map((e) => [e.decision, e.reason, e.kind])).toEqual([
      ["allow", "ok", "cccd"],
      ["deny", "infected", "cccd"],
      ["deny", "unknown_subject", "cccd"],
      ["allow", "staff", "pass"],
      ["deny", "bad_format", "pass"],
      ["deny", "bad_format", "unknown"],
      ["deny", "quarantine", "cccd"],
      ["deny", "identity_mismatch", "cccd"],
    ]);
    expect(got.map((e) => e.subject)).toEqual([
      "001099012345", "079188001234", "001099999999", "001099004567", null, null, "001099000111", "001099000222",
    ]);
    for (const e of got) {
      expect(Object.keys(e).sort()).toEqual(
        ["decision", "device", "door", "id", "kind", "latencyMs", "reason", "site", "stale", "statusVersion", "subject", "ts"],
      );
      expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(e.ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect([e.site, e.device, e.door]).toEqual(["hq", "gate-1", "lobby"]);
      expect(e.statusVersion).toBe(1);
      expect(e.stale).toBe(false);
      expect(e.latencyMs).toBeGreaterThanOrEqual(0);
    }
  });

  it("refuses the same pass shown again as replayed", async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const pass = signPass({ privateKey: privateKey.privateKey, kid: "test-issuer", alg: "EdDSA", sub: "001099012345", ttlS: 300, nowS });
    await scan(pass);
    await scan(CARD("001099000333", "03031993")); // in between, so the repeat is not merged by dedup
    await scan(pass);
    await waitFor(() => received.size >= 11, "11 entries");
    expect([8, 9, 10].map((i) => entryFor(i)!.reason)).toEqual(["ok", "insufficient_vaccination", "replayed"]);
    expect(entryFor(10)!.subject).toBe("001099012345");
  });

  it("keeps deciding while the broker is down and delivers every entry after it returns", async () => {
    await broker.stop();
    await waitFor(() => gate.logs().some((l) => l.msg === "mqtt connection lost; entries queue in the outbox"), "the gate to notice");
    const outage = ["001099012345", "079188001234", "001099004567", "001099000222"];
    const dobs = ["01011990", "12031988", "30121999", "02021992"];
    const names = ["Lê Thị Hồng", "PHẠM VĂN ĐỨC", "Hoang Minh Tuan", "Võ Thị Ngọc Ánh", "Đặng Quốc Bảo"];
    for (const name of names) {
      for (let i = 0; i < outage.length; i++) await scan(CARD(outage[i]!, dobs[i]!, name));
    }
    expect(received.size).toBe(11);
    await broker.start();
    await waitFor(() => received.size >= 31, "all 31 entries after the broker restart", 30_000);
    expect(received.size).toBe(31);
    // The backlog arrives in the order it was journaled.
    const backlog = arrivals.filter((id) => !arrivals.slice(0, 11).includes(id));
    const unique = [...new Set(backlog)];
    expect(unique).toEqual([...unique].sort());
    expect(
      [...received.values()].filter((e) => e.reason === "ok" || e.reason === "staff").length,
    ).toBe(3 + 5 * 3);
  });

  it("stops on SIGTERM with the relay off and nothing left in the outbox", async () => {
    gate.proc.kill("SIGTERM");
    expect(await gate.exited()).toBe(0);
    await waitFor(() => states.at(-1)?.state === "offline", "the offline state at stop");
    const relay = gate.logs().filter((l) => l.module === "relay");
    expect(relay.at(-1)?.on).toBe(false);
    expect(relay[0]?.on).toBe(false);
    const db = new Database(join(dir, "store/gate.db"), { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM outbox").get()).toEqual({ n: 0 });
      expect(db.prepare("SELECT count(*) AS n FROM entries").get()).toEqual({ n: 31 });
    } finally {
      db.close();
    }
  });
});
