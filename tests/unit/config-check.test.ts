/**
 * One source of truth for the configuration (the generated type is never stale), the rules between keys, and
 * `qrgate config check` on good and bad files.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import AjvModule from "ajv";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { validateConfig } from "../../src/config/load-config.js";
import { runCli } from "../support/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const GEN = join(ROOT, "scripts/gen-config-types.mjs");
const tmp = (): string => mkdtempSync(join(tmpdir(), "qrgate-cfgcheck-"));

function problems(raw: unknown): readonly string[] {
  try {
    validateConfig(raw, "test");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe("the Config type is generated from the schema", () => {
  it("src/config/config.generated.ts is up to date with device-config/schema.json (else: npm run gen:config)", () => {
    const r = spawnSync(process.execPath, [GEN, "--check"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("the check fails when the schema gains a key the type does not have", () => {
    const schema = JSON.parse(readFileSync(join(ROOT, "device-config/schema.json"), "utf8")) as { properties: Record<string, unknown> };
    schema.properties.colour = { type: "string" };
    const path = join(tmp(), "schema.json");
    writeFileSync(path, JSON.stringify(schema));
    const r = spawnSync(process.execPath, [GEN, "--check", "--schema", path], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is stale: the schema changed; run 'npm run gen:config'/);
    const out = join(tmp(), "gen.ts");
    spawnSync(process.execPath, [GEN, "--schema", path, "--out", out]);
    expect(readFileSync(out, "utf8")).toContain("readonly colour?: string;");
  });
});

describe("example configurations", () => {
  const dir = join(ROOT, "device-config/examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

  it.each(files)("%s validates against the schema with a fresh validator (no defaults filled in)", (f) => {
    const Ajv = AjvModule.default;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(ROOT, "device-config/schema.json"), "utf8")) as object);
    const ok = validate(JSON.parse(readFileSync(join(dir, f), "utf8")));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it.each(files)("%s passes the rules between keys", (f) => {
    expect(problems(JSON.parse(readFileSync(join(dir, f), "utf8")))).toEqual([]);
  });
});

describe("rules between keys", () => {
  it.each([
    [{ relay: { pulseMs: 5000, maxPulseMs: 1000 } }, "relay.maxPulseMs (1000) is smaller than relay.pulseMs (5000): the longest release cannot be shorter than one pulse"],
    [{ relay: { type: "gpio" } }, "relay: missing required key 'pin'"],
    [{ mqtt: { password: "x" } }, "mqtt.password: given without mqtt.username (the broker would ignore it)"],
    [{ mqtt: { url: "mqtt://b:1883", ca: "ca.pem" } }, "mqtt.ca: TLS file given but mqtt.url is not mqtts:// or wss:// (mqtt://b:1883)"],
  ])("%j -> %s", (raw, problem) => {
    expect(problems(raw)).toContain(problem);
  });

  it("lists every cross-key problem at once", () => {
    expect(problems({ relay: { pulseMs: 5000, maxPulseMs: 1000 }, mqtt: { password: "x" } })).toHaveLength(2);
  });
});

describe("qrgate config check", () => {
  it("prints ok and exits 0 for a good file", () => {
    const path = join(tmp(), "c.json");
    writeFileSync(path, JSON.stringify({ site: "hq", device: "gate-1", scanner: { type: "stdin" } }));
    const r = runCli(["config", "check", "--config", path]);
    expect(r.stdout).toBe(`${path}: ok\n`);
    expect(r.status).toBe(0);
  });

  it("names every bad key by path and exits 2", () => {
    const path = join(tmp(), "c.json");
    writeFileSync(path, JSON.stringify({ site: "HQ", relay: { pulseMs: "3000" }, scanner: { type: "serial" }, colour: 1, policy: { unknown: "maybe" } }));
    const r = runCli(["config", "check", "--config", path]);
    expect(r.status).toBe(2);
    expect(r.stdout.trim().split("\n").sort()).toEqual(
      [
        `${path}: (top level): unknown key 'colour'`,
        `${path}: site: must match pattern "^(?!all$)[a-z0-9-]{1,64}$"`,
        `${path}: relay.pulseMs: must be integer`,
        `${path}: scanner: missing required key 'path'`,
        `${path}: policy.unknown: must be one of "deny", "allow"`,
      ].sort(),
    );
  });

  it("checks the files the config names: missing, not a key set, a private key as the centre key", () => {
    const dir = tmp();
    writeFileSync(join(dir, "keys.json"), '{"keys": [{"kty": "oct"}]}');
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(join(dir, "centre.json"), JSON.stringify(privateKey.export({ format: "jwk" })));
    const path = join(dir, "c.json");
    writeFileSync(
      path,
      JSON.stringify({
        passes: { issuerKeys: "keys.json" },
        centre: { publicKey: "centre.json" },
        mqtt: { url: "mqtts://b:8883", username: "u", ca: "nowhere.pem" },
      }),
    );
    const r = runCli(["config", "check", "--config", path]);
    expect(r.status).toBe(2);
    const lines = r.stdout.trim().split("\n").map((l) => l.slice(path.length + 2));
    expect(lines).toEqual([
      expect.stringMatching(/^mqtt\.ca: cannot read .*nowhere\.pem: no such file$/),
      expect.stringMatching(/^passes\.issuerKeys: .*keys\.json: keys\[0\]: kid/),
      expect.stringMatching(/^passes\.issuerKeys: .*keys\.json: keys\[0\]: kty/),
      expect.stringMatching(/^centre\.publicKey: .*centre\.json is a private key/),
    ]);
  });

  it("says when the client key is not the certificate's", () => {
    const dir = tmp();
    writeFileSync(join(dir, "client.key"), generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }));
    const cert = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "other.key"), "-out", join(dir, "client.crt"), "-subj", "/CN=x", "-days", "1"]);
    expect(cert.status).toBe(0);
    const path = join(dir, "c.json");
    writeFileSync(path, JSON.stringify({ mqtt: { url: "mqtts://b:8883", cert: "client.crt", key: "client.key" } }));
    const r = runCli(["config", "check", "--config", path]);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/: mqtt\.cert: .*client\.crt does not belong to the private key in mqtt\.key/);
  });

  it("a missing file or an unknown subcommand is one line and exit 2", () => {
    const missing = runCli(["config", "check", "--config", "/nonexistent/c.json"]);
    expect(missing.status).toBe(2);
    expect(missing.stdout).toBe("/nonexistent/c.json: cannot read the file: ENOENT\n");
    const bad = runCli(["config", "lint"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^qrgate: config: unknown subcommand 'lint'/);
  });
});
