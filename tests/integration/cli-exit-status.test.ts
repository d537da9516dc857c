/**
 * Issue 14 item 6 and issue 11 item 11: every verb maps a bad configuration or an unusable path to one line on
 * stderr and exit 2, and a gate that cannot start says why and exits within seconds (never a silent process
 * without "gate started").
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "qrgate-exit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, body: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof body === "string" ? body : JSON.stringify(body));
  return p;
}

/** One line on stderr (the pino log lines of `run` aside), and no stack trace anywhere. */
function userLines(r: CliResult): string[] {
  return r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("{"));
}

function expectOneLineExit2(r: CliResult, mentions: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  const lines = userLines(r);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^qrgate: /);
  expect(lines[0]).toMatch(mentions);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const csv = join(dir, "status.csv");
writeFileSync(csv, "001099012345,clear,2,,,,,\n");
const store = (name: string) => ({ path: join(dir, name, "gate.db") });

describe("exit statuses, the same for every verb", () => {
  const broken = config("broken.json", '{"site": "a",');
  const missingCa = config("missing-ca.json", { mqtt: { url: "mqtts://127.0.0.1:1", ca: "no-such-ca.pem" }, store: store("ca") });

  it.each([
    ["run", ["run", "--config", broken]],
    ["status import", ["status", "import", csv, "--config", broken]],
  ])("%s with a configuration that is not JSON: one line, exit 2", (_verb, args) => {
    expectOneLineExit2(runCli(args, { input: "" }), /broken\.json: not valid JSON/);
  });

  it.each([
    ["run", ["run", "--config", missingCa]],
    ["status import", ["status", "import", csv, "--config", missingCa]],
  ])("%s with a missing mqtt.ca file: names the key and the path, exit 2", (_verb, args) => {
    expectOneLineExit2(runCli(args, { input: "" }), /mqtt\.ca: cannot read .*no-such-ca\.pem: no such file/);
  });

  it.each([
    ["status import", ["status", "import", csv, "--config"]],
    ["run", ["run", "--config"]],
  ])("%s with a client key file that is not a key: names mqtt.key and the file, exit 2", (_verb, args) => {
    writeFileSync(join(dir, "junk-key.pem"), "not a key\n");
    writeFileSync(join(dir, "junk-cert.pem"), "not a certificate\n");
    const c = config("junk-key.json", { mqtt: { url: "mqtts://127.0.0.1:1", cert: "junk-cert.pem", key: "junk-key.pem" }, store: store("tls") });
    expectOneLineExit2(runCli([...args, c], { input: "" }), /mqtt\.key: .*junk-key\.pem is not a PEM private key/);
  });

  it("run with a store folder under a file: names the path, exit 2, the relay off", () => {
    writeFileSync(join(dir, "a-file"), "");
    const c = config("store-under-file.json", { store: { path: join(dir, "a-file", "gate.db") } });
    const r = runCli(["run", "--config", c], { input: "" });
    expectOneLineExit2(r, /a-file/);
    expect(r.stderr).not.toMatch(/"gate started"/);
    // The relay part had started (locked), so the failed start stopped it again: locked at init and at rollback.
    const relay = r.stderr.split("\n").filter((l) => l.includes('"module":"relay"')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(relay.length).toBeGreaterThanOrEqual(2);
    expect(new Set(relay)).toEqual(new Set(["relay off"]));
  });

  it("run with an issuer key file that is not a key set: names passes.issuerKeys, exit 2", () => {
    const keys = join(dir, "keys.json");
    writeFileSync(keys, "-----BEGIN PUBLIC KEY-----\n");
    const c = config("bad-keys.json", { passes: { issuerKeys: keys }, store: store("keys"), mqtt: { url: "mqtt://127.0.0.1:1" } });
    const r = runCli(["run", "--config", c], { input: "" });
    expectOneLineExit2(r, /passes\.issuerKeys/);
    expect(r.stderr).not.toMatch(/"gate started"/);
  });

  it("run with a read-only store folder: names the path, exit 2 within seconds", (ctx) => {
    // root ignores file modes, so a read-only folder needs a read-only mount.
    const ro = join(dir, "ro");
    mkdirSync(ro);
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], { encoding: "utf8" });
    if (m.status !== 0) {
      ctx.skip(`cannot mount a read-only tmpfs here (${m.stderr.trim()}); run as root to test a read-only store folder`);
      return;
    }
    try {
      const c = config("ro-store.json", { store: { path: join(ro, "gate.db") }, mqtt: { url: "mqtt://127.0.0.1:1" } });
      const t0 = Date.now();
      const r = runCli(["run", "--config", c], { input: "" });
      expect(Date.now() - t0).toBeLessThan(10_000);
      expectOneLineExit2(r, new RegExp(`${ro}/gate\\.db`));
    } finally {
      spawnSync("umount", [ro]);
    }
  });

  it("an unknown verb or option is a usage error, exit 2", () => {
    expect(runCli(["frobnicate"]).status).toBe(2);
    expectOneLineExit2(runCli(["run", "--bogus"]), /run: Unknown option '--bogus'/);
  });
});
