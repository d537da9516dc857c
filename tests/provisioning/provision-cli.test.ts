/**
 * `qrgate provision` as a technician runs it, against a real Mosquitto that uses exactly the password_file line and
 * acl_file block the command prints.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load-config.js";
import { mosquittoPasswordLine } from "../../src/provisioning/mosquitto-password.js";
import { CLI, runCli, spawnCli } from "../support/cli.js";
import { startBroker, type TestBroker } from "../support/mosquitto.js";
import { waitFor } from "../support/wait.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), "qrgate-prov-"));

/** The printed lines between a `# add to the broker's X` heading and the next blank line. */
function section(stdout: string, heading: string): string {
  const lines = stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`# add to the broker's ${heading}`));
  expect(start).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n") + "\n";
}

function provision(dir: string, site: string, device: string, url: string, extra: string[] = []) {
  return runCli(["provision", "--site", site, "--device", device, "--door", "lobby", "--url", url, "--out", dir, "--store", join(dir, "gate.db"), ...extra]);
}

function connect(url: string, username: string, password: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 5, username, password, reconnectPeriod: 0, clientId: `t-${username}-${Math.random()}` });
    const refused = (e: Error): void => {
      c.end(true);
      reject(e);
    };
    c.once("error", refused);
    // Only a failed login ends the client; later errors (a refused publish) are the publish's result.
    c.once("connect", () => {
      c.off("error", refused);
      c.on("error", () => undefined);
      resolve(c);
    });
  });
}


describe("qrgate provision, non-interactive", () => {
  it("writes a 0600 config with $schema that validates, config check accepts and run starts on", async () => {
    const dir = tmp();
    const r = provision(dir, "hq", "gate-1", "mqtt://127.0.0.1:1", ["--scanner", "stdin", "--relay-line", "17"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const path = join(dir, "config.json");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    expect(doc.$schema).toMatch(/device-config\/schema\.json$/);
    expect(doc).toMatchObject({ site: "hq", device: "gate-1", door: "lobby", relay: { type: "gpio", pin: 17 }, mqtt: { username: "hq.gate-1" } });
    expect(String((doc.mqtt as Record<string, string>).password)).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(() => validateConfig(doc, path)).not.toThrow();

    const check = runCli(["config", "check", "--config", path]);
    expect(check.stdout).toBe(`${path}: ok\n`);
    expect(check.status).toBe(0);

    // run on the provisioned config, with the relay simulated (no GPIO here): it starts and stops cleanly.
    writeFileSync(path, JSON.stringify({ ...doc, relay: { type: "sim" } }));
    const gate = spawnCli(["run", "--config", path]);
    await waitFor(() => gate.logs().some((l) => l.msg === "gate started"), "the gate to start on the provisioned config");
    gate.proc.kill("SIGTERM");
    expect(await gate.exited()).toBe(0);
  });

  it("copies the broker CA and the centre key beside the config and names them; a missing one writes nothing", () => {
    const src = tmp();
    const ca = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(src, "ca.key"), "-out", join(src, "ca.pem"), "-subj", "/CN=ca", "-days", "1"]);
    expect(ca.status).toBe(0);
    const centre = runCli(["keys", "gen", "--kid", "centre", "--out", src]);
    expect(centre.status).toBe(0);
    const dir = tmp();
    const r = provision(dir, "hq", "gate-4", "mqtts://broker.example:8883", ["--ca", join(src, "ca.pem"), "--centre-key", join(src, "issuer-keys.jwks.json")]);
    expect(r.status).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, Record<string, string>>;
    expect(doc.mqtt!.ca).toBe("ca.pem");
    expect(doc.centre).toEqual({ publicKey: "centre-key.json" });
    expect(readFileSync(join(dir, "ca.pem"), "utf8")).toBe(readFileSync(join(src, "ca.pem"), "utf8"));
    expect(runCli(["config", "check", "--config", join(dir, "config.json")]).stdout).toMatch(/: ok\n$/);

    const none = tmp();
    const bad = provision(join(none, "out"), "hq", "gate-4", "mqtts://broker.example:8883", ["--ca", join(src, "missing.pem")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--ca .*missing\.pem does not exist/);
    expect(existsSync(join(none, "out"))).toBe(false);
  });

  it("takes a HID scanner by USB ids, as the hid driver's keys", () => {
    const dir = tmp();
    expect(provision(dir, "hq", "gate-8", "mqtt://127.0.0.1:1", ["--scanner", "hid:0C2E:0b61"]).status).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { scanner: unknown };
    expect(doc.scanner).toEqual({ type: "hid", vendorId: 0x0c2e, productId: 0x0b61 });
    expect(runCli(["config", "check", "--config", join(dir, "config.json")]).status).toBe(0);
    const bad = provision(tmp(), "hq", "gate-8", "mqtt://127.0.0.1:1", ["--scanner", "usb:1234"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--scanner must be serial:PATH, hid:VID:PID/);
  });

  it("names every missing flag on one line when stdin is not a terminal", () => {
    const r = runCli(["provision", "--site", "hq"], { input: "" });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("qrgate: provision: missing --device, --door, --url, --out (or run it on a terminal to be asked)\n");
  });

  it("refuses to overwrite an existing config without --force, and a bad site name", () => {
    const dir = tmp();
    expect(provision(dir, "hq", "gate-1", "mqtt://127.0.0.1:1").status).toBe(0);
    const again = provision(dir, "hq", "gate-1", "mqtt://127.0.0.1:1");
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/config\.json exists; --force replaces it/);
    const bad = provision(tmp(), "Head Office", "gate-1", "mqtt://127.0.0.1:1");
    expect(bad.status).toBe(2);
    expect(bad.stderr.split("\n")).toHaveLength(2);
  });

  it("with --tls writes a 0600 P-256 key and a CSR named for the login, and the config names them", () => {
    const dir = tmp();
    const r = provision(dir, "hq", "gate-2", "mqtts://broker.example:8883", ["--tls"]);
    expect(r.status).toBe(0);
    expect(statSync(join(dir, "client.key")).mode & 0o777).toBe(0o600);
    const csr = spawnSync("openssl", ["req", "-in", join(dir, "client.csr"), "-noout", "-verify", "-subject"], { encoding: "utf8" });
    expect(csr.status).toBe(0);
    expect(csr.stdout).toMatch(/CN\s*=\s*hq\.gate-2/);
    const doc = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { mqtt: Record<string, string> };
    expect(doc.mqtt).toEqual({ url: "mqtts://broker.example:8883", cert: "client.crt", key: "client.key" });
    // Until the admin's signed certificate is in place, config check says exactly that.
    const check = runCli(["config", "check", "--config", join(dir, "config.json")]);
    expect(check.status).toBe(2);
    expect(check.stdout).toContain("mqtt.cert: cannot read");
  });
});

const hasScript = spawnSync("script", ["--version"]).status === 0;
if (!hasScript) process.stderr.write("interactive provision test skipped: script not found (apt-get install util-linux)\n");

describe.skipIf(!hasScript)("qrgate provision on a terminal", () => {
  it("asks for what the flags left out, again after a bad answer, and writes the config", () => {
    const dir = tmp();
    // `script` gives the command a terminal; the answers are typed ahead, as a technician pasting them would.
    const answers = ["hq", "gate-5", "lobby", "http://wrong", "mqtt://127.0.0.1:1", "", "17", ""].join("\n");
    const r = spawnSync("script", ["-qec", `${process.execPath} ${CLI} provision --out ${dir} --store ${join(dir, "g.db")}`, "/dev/null"], {
      input: answers,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Broker URL:   not valid, try again");
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toMatchObject({
      site: "hq",
      device: "gate-5",
      door: "lobby",
      mqtt: { url: "mqtt://127.0.0.1:1", username: "hq.gate-5" },
      scanner: { type: "serial", path: "/dev/ttyACM0" },
      relay: { type: "gpio", pin: 17 },
    });
  });
});

describe("the printed broker lines, in a real Mosquitto", () => {
  let broker: TestBroker;
  let dir: string;
  let device: { username: string; password: string };
  let out: string;

  beforeAll(async () => {
    dir = tmp();
    const r = provision(dir, "hq", "gate-1", "mqtt://127.0.0.1:1");
    expect(r.status).toBe(0);
    out = r.stdout;
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { mqtt: { username: string; password: string } };
    device = cfg.mqtt;
    const passwd = join(dir, "passwd");
    const acl = join(dir, "acl");
    writeFileSync(passwd, section(out, "password_file") + mosquittoPasswordLine("admin", "admin-pw") + "\n", { mode: 0o600 });
    writeFileSync(acl, section(out, "acl_file") + "user admin\ntopic readwrite #\n", { mode: 0o600 });
    // max_queued_messages back to a bound: with 0 (tests/support's default), Mosquitto 2.0.11 drops the connection of
    // a client right after refusing one of its publishes, which would hide what this test looks at.
    broker = await startBroker({ persistence: false, extra: ["max_queued_messages 1000", "allow_anonymous false", `password_file ${passwd}`, `acl_file ${acl}`] });
  });
  afterAll(async () => broker?.dispose());

  it("accepts the generated password and refuses a wrong one", async () => {
    const c = await connect(broker.url, device.username, device.password);
    await c.endAsync();
    await expect(connect(broker.url, device.username, device.password + "x")).rejects.toThrow(/Not authorized|Bad User Name or Password/i);
  });

  it("lets the device publish its own topics and not another device's", async () => {
    const admin = await connect(broker.url, "admin", "admin-pw");
    const seen: string[] = [];
    admin.on("message", (t) => seen.push(t));
    await admin.subscribeAsync("qrgate/v1/#", { qos: 1 });
    const c = await connect(broker.url, device.username, device.password);
    // The broker answers "not authorized", and nothing of it reaches a subscriber.
    const send = (topic: string, qos: 0 | 1): Promise<unknown> => c.publishAsync(topic, "{}", { qos });
    await send("qrgate/v1/hq/gate-1/entry", 1);
    expect(String(await send("qrgate/v1/hq/gate-2/entry", 1).catch((e: Error) => e))).toMatch(/Not authorized/);
    expect(String(await send("qrgate/v1/other/gate-1/entry", 1).catch((e: Error) => e))).toMatch(/Not authorized/);
    expect(String(await send("qrgate/v1/hq/gate-2/cmd", 1).catch((e: Error) => e))).toMatch(/Not authorized/);
    // A gate must not command its site's other gates.
    expect(String(await send("qrgate/v1/hq/all/cmd", 1).catch((e: Error) => e))).toMatch(/Not authorized/);
    await send("qrgate/v1/hq/all/used-passes", 1);
    await send("qrgate/v1/hq/gate-1/event", 1);
    await waitFor(() => seen.includes("qrgate/v1/hq/gate-1/event"), "the device's own event");
    expect(seen).toEqual(["qrgate/v1/hq/gate-1/entry", "qrgate/v1/hq/all/used-passes", "qrgate/v1/hq/gate-1/event"]);

    // It reads its own commands and the site's, not another gate's.
    const got: string[] = [];
    c.on("message", (t) => got.push(t));
    await c.subscribeAsync(["qrgate/v1/hq/gate-1/cmd", "qrgate/v1/hq/all/cmd", "qrgate/v1/hq/gate-2/cmd"], { qos: 1 });
    for (const t of ["qrgate/v1/hq/gate-2/cmd", "qrgate/v1/hq/all/cmd", "qrgate/v1/hq/gate-1/cmd"]) await admin.publishAsync(t, "{}", { qos: 1 });
    await waitFor(() => got.includes("qrgate/v1/hq/gate-1/cmd"), "the device's own command");
    expect(got).toEqual(["qrgate/v1/hq/all/cmd", "qrgate/v1/hq/gate-1/cmd"]);
    await c.endAsync();
    await admin.endAsync();
  });

  it("--check fails plainly before the admin adds the lines, and publishes the device's state after", async () => {
    const dir2 = tmp();
    const r = provision(dir2, "hq", "gate-3", broker.url, ["--check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^qrgate: provision --check: the broker at mqtt:\/\/127\.0\.0\.1:\d+ refused the connection: .+\n$/);
    expect(JSON.parse(readFileSync(join(dir2, "config.json"), "utf8"))).toMatchObject({ device: "gate-3" });

    // The admin adds the password line but, by mistake, another device's ACL block: the check says the publish was refused.
    writeFileSync(join(dir, "passwd"), readFileSync(join(dir, "passwd"), "utf8") + section(r.stdout, "password_file"));
    await broker.stop();
    await broker.start();
    const denied = runCli(["provision", "--check", "--out", dir2]);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toMatch(/refused a publish on qrgate\/v1\/hq\/gate-3\/state: Publish error: Not authorized \(is the acl_file block in place\?\)\n$/);

    // The admin adds the ACL block too; the technician checks again, without a new password.
    writeFileSync(join(dir, "acl"), readFileSync(join(dir, "acl"), "utf8") + section(r.stdout, "acl_file"));
    await broker.stop();
    await broker.start();
    const admin = await connect(broker.url, "admin", "admin-pw");
    const states: string[] = [];
    admin.on("message", (_t, p) => states.push((JSON.parse(p.toString()) as { state: string }).state));
    await admin.subscribeAsync("qrgate/v1/hq/gate-3/state", { qos: 1 });
    const ok = runCli(["provision", "--check", "--out", dir2]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(/^check: logged in to mqtt:\/\/127\.0\.0\.1:\d+ as hq\.gate-3 and published qrgate\/v1\/hq\/gate-3\/state: ok\n$/);
    expect(ok.status).toBe(0);
    await waitFor(() => states.length >= 2, "the device's state messages");
    expect(states).toEqual(["online", "offline"]);
    await admin.endAsync();
  });
});

/** openssl, failing the test with its stderr. */
function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

describe("--tls, end to end with a Mosquitto that requires client certificates", () => {
  let broker: TestBroker | undefined;
  afterAll(async () => broker?.dispose());

  it("the CSR, signed by the broker's CA, logs in as SITE.DEVICE under the printed ACL", async () => {
    const pki = tmp();
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=test CA", "-days", "2"], pki);
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], pki);
    writeFileSync(join(pki, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"], pki);

    const dir = tmp();
    const port = await import("../support/mosquitto.js").then((m) => m.freePort());
    const url = `mqtts://127.0.0.1:${port}`;
    const r = provision(dir, "hq", "gate-6", url, ["--tls", "--ca", join(pki, "ca.pem")]);
    expect(r.status).toBe(0);
    // The broker admin signs the CSR.
    openssl(["x509", "-req", "-in", join(dir, "client.csr"), "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", join(dir, "client.crt"), "-days", "2"], pki);
    expect(runCli(["config", "check", "--config", join(dir, "config.json")]).status).toBe(0);

    const acl = join(pki, "acl");
    writeFileSync(acl, section(r.stdout, "acl_file"), { mode: 0o600 });
    broker = await startBroker({
      persistence: false,
      extra: [
        `listener ${port} 127.0.0.1`,
        `cafile ${join(pki, "ca.pem")}`,
        `certfile ${join(pki, "server.pem")}`,
        `keyfile ${join(pki, "server.key")}`,
        "require_certificate true",
        "use_identity_as_username true",
        `acl_file ${acl}`,
      ],
    });
    const ok = runCli(["provision", "--check", "--out", dir]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toContain(`as (client certificate) and published qrgate/v1/hq/gate-6/state: ok`);
    expect(ok.status).toBe(0);
  });
});

