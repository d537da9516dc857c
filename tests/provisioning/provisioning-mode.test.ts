/**
 * The signed provisioning QR round trip with the real CLI: `provision --qr` signs a code with the fleet's key, a gate
 * in provisioning mode reads it through its stdin scanner, writes its config and comes online on the new device's
 * `state` topic in a real Mosquitto; a forged code changes nothing.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, spawnCli, type CliChild } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), "qrgate-qgp1-"));

function keysGen(dir: string): { priv: string; jwks: string } {
  const r = runCli(["keys", "gen", "--kid", "provisioning", "--out", dir]);
  expect(r.status).toBe(0);
  return { priv: join(dir, "provisioning.private.jwk.json"), jwks: join(dir, "issuer-keys.jwks.json") };
}

/** `provision --qr`: returns the printed QGP1 text. */
function makeCode(key: string, url: string, device: string, png: string): string {
  const r = runCli(["provision", "--site", "hq", "--device", device, "--door", "lobby", "--url", url, "--qr", png, "--key", key]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const line = r.stdout.split("\n").find((l) => l.startsWith("QGP1:"));
  expect(line).toBeDefined();
  return line!;
}

let broker: TestBroker;
let fleet: { priv: string; jwks: string };
let forger: { priv: string; jwks: string };
let watcher: MqttClient;
const online = new Set<string>();
const children: CliChild[] = [];

beforeAll(async () => {
  broker = await startBroker({ persistence: false });
  fleet = keysGen(tmp());
  forger = keysGen(tmp());
  watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  watcher.on("message", (topic, p) => {
    if (p.length > 0 && (JSON.parse(p.toString()) as { state: string }).state === "online") online.add(topic);
  });
  await watcher.subscribeAsync("qrgate/v1/+/+/state", { qos: 1 });
});
afterAll(async () => {
  for (const c of children) c.proc.kill("SIGKILL");
  await watcher?.endAsync();
  await broker?.dispose();
});

function gate(config: string): CliChild {
  const c = spawnCli(["run", "--config", config]);
  children.push(c);
  return c;
}

describe("provisioning mode", () => {
  it("refuses a forged code (nothing changes), then applies the fleet's code and comes online as the new device", async () => {
    const dir = tmp();
    copyFileSync(fleet.jwks, join(dir, "provisioning-keys.jwks.json"));
    const config = join(dir, "config.json");
    const before = JSON.stringify({ provisioning: true, scanner: { type: "stdin" }, relay: { type: "sim", pulseMs: 2000 }, store: { path: "gate.db" } }, null, 2);
    writeFileSync(config, before, { mode: 0o640 });
    const forged = makeCode(forger.priv, broker.url, "gate-9", join(dir, "forged.png"));
    const good = makeCode(fleet.priv, broker.url, "gate-9", join(dir, "good.png"));

    const g = gate(config);
    await waitFor(() => g.stdout.some((l) => l.startsWith("provisioning mode: scan the provisioning code")), "provisioning mode");
    g.proc.stdin!.write(forged + "\n");
    await waitFor(() => g.stdout.some((l) => l.startsWith("REFUSED bad_signature")), "the forged code to be refused");
    g.proc.stdin!.write("001099012345|123456789|Nguyễn Văn An|01011990|Nam|Hà Nội|15062021\n");
    expect(readFileSync(config, "utf8")).toBe(before);
    expect(existsSync(join(dir, "gate.db"))).toBe(false);

    g.proc.stdin!.write(good + "\r\n");
    await waitFor(() => g.stdout.some((l) => l.startsWith("PROVISIONED hq/gate-9 door lobby")), "the good code to be applied");
    await waitFor(() => online.has("qrgate/v1/hq/gate-9/state"), "the gate online on its new state topic");
    const after = JSON.parse(readFileSync(config, "utf8")) as Record<string, unknown>;
    expect(after).toMatchObject({ site: "hq", device: "gate-9", door: "lobby", mqtt: { url: broker.url, username: "hq.gate-9" } });
    // What the technician set up on the device stays; the provisioning flag goes.
    expect(after).toMatchObject({ scanner: { type: "stdin" }, relay: { type: "sim", pulseMs: 2000 }, store: { path: "gate.db" } });
    expect(after.provisioning).toBeUndefined();
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(runCli(["config", "check", "--config", config]).status).toBe(0);

    g.proc.kill("SIGTERM");
    expect(await g.exited()).toBe(0);
  });

  it("starts in provisioning mode on first boot (no config, provisioning keys beside it)", async () => {
    const dir = tmp();
    copyFileSync(fleet.jwks, join(dir, "provisioning-keys.jwks.json"));
    const config = join(dir, "config.json");
    expect(runCli(["config", "check", "--config", config]).stdout).toContain("waits for a provisioning code");
    const g = gate(config);
    await waitFor(() => g.stdout.some((l) => l.startsWith("provisioning mode")), "provisioning mode");
    g.proc.stdin!.write(makeCode(fleet.priv, broker.url, "gate-10", join(dir, "c.png")) + "\n");
    await waitFor(() => online.has("qrgate/v1/hq/gate-10/state"), "the new gate online");
    expect(JSON.parse(readFileSync(config, "utf8"))).toMatchObject({ site: "hq", device: "gate-10" });
    g.proc.kill("SIGTERM");
    expect(await g.exited()).toBe(0);
  });

  it("refuses to start when the provisioning key set is missing, in one line", () => {
    const dir = tmp();
    writeFileSync(join(dir, "config.json"), JSON.stringify({ provisioning: true, scanner: { type: "stdin" } }));
    const r = runCli(["run", "--config", join(dir, "config.json")], { input: "" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/provisioning-keys\.jwks\.json.*cannot read the provisioning key set/s);
  });

  it("writes the same code as a QR code PNG that decodes back to it", async () => {
    const dir = tmp();
    const png = join(dir, "code.png");
    const code = makeCode(fleet.priv, broker.url, "gate-11", png);
    const zxing = await import("zxing-wasm/reader");
    const wasm = readFileSync(createRequire(import.meta.url).resolve("zxing-wasm/reader/zxing_reader.wasm"));
    await zxing.prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) }, fireImmediately: true });
    const found = await zxing.readBarcodes(new Uint8Array(readFileSync(png)), { formats: ["QRCode"] });
    expect(found.map((b) => b.text)).toEqual([code]);
  });
});
