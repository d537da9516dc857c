import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CliError } from "../../src/cli/cli-error.js";
import { run as keys } from "../../src/cli/keys.js";
import { run as pass } from "../../src/cli/pass.js";
import { verifyPass } from "../../src/core/pass.js";
import {
  generateIssuerKeyPair,
  jwkThumbprint,
  readJwksFile,
  readPrivateKeyFile,
  writeIssuerKeyFiles,
} from "../../src/issuer/key-files.js";

let dir: string;
let out: string[];
let errOut: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "qrgate-keys-"));
  out = [];
  errOut = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    errOut.push(String(chunk));
    return true;
  });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const stdout = (): string => out.join("");

async function cliError(p: Promise<number>): Promise<CliError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CliError);
  return e as CliError;
}

describe("qrgate keys gen", () => {
  it("writes a 0600 private JWK and a public JWKS and prints their paths", async () => {
    expect(await keys(["gen", "--kid", "site-a-2021", "--out", dir])).toBe(0);
    const priv = join(dir, "site-a-2021.private.jwk.json");
    const jwks = join(dir, "issuer-keys.jwks.json");
    expect(stdout()).toBe(`kid: site-a-2021\nprivate key: ${priv}\npublic key set: ${jwks}\n`);
    expect((await stat(priv)).mode & 0o777).toBe(0o600);
    const privJson = JSON.parse(await readFile(priv, "utf8"));
    expect(privJson).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: "site-a-2021", alg: "EdDSA", use: "sig" });
    expect(typeof privJson.d).toBe("string");
    const set = JSON.parse(await readFile(jwks, "utf8"));
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).not.toHaveProperty("d");
    const parsed = await readJwksFile(jwks);
    expect(parsed.get("site-a-2021")?.alg).toBe("EdDSA");
  });

  it("makes an ES256 key with --alg ES256", async () => {
    await keys(["gen", "--alg", "ES256", "--kid", "ec1", "--out", dir]);
    expect((await readJwksFile(join(dir, "issuer-keys.jwks.json"))).get("ec1")?.alg).toBe("ES256");
    expect((await readPrivateKeyFile(join(dir, "ec1.private.jwk.json"))).alg).toBe("ES256");
  });

  it("names a key after its algorithm and thumbprint when no --kid is given", async () => {
    await keys(["gen", "--out", dir]);
    const kid = /^kid: (.+)$/m.exec(stdout())?.[1] ?? "";
    expect(kid).toMatch(/^eddsa-[A-Za-z0-9_-]{12}$/);
    const key = (await readJwksFile(join(dir, "issuer-keys.jwks.json"))).get(kid);
    expect(key && jwkThumbprint(key.key).startsWith(kid.slice(6))).toBe(true);
  });

  it("adds to an existing key set instead of overwriting it, keeping what else it holds", async () => {
    const jwks = join(dir, "issuer-keys.jwks.json");
    await keys(["gen", "--kid", "old", "--out", dir]);
    const doc = JSON.parse(await readFile(jwks, "utf8"));
    await writeFile(jwks, JSON.stringify({ ...doc, note: "kept" }));
    await keys(["gen", "--kid", "new", "--alg", "ES256", "--out", dir]);
    const after = JSON.parse(await readFile(jwks, "utf8")) as { note: string; keys: { kid: string }[] };
    expect(after.note).toBe("kept");
    expect(after.keys.map((k) => k.kid)).toEqual(["old", "new"]);
  });

  it("refuses a kid already in the key set and writes nothing", async () => {
    await keys(["gen", "--kid", "k1", "--out", dir]);
    const before = await readdir(dir);
    await rm(join(dir, "k1.private.jwk.json"));
    const e = await cliError(keys(["gen", "--kid", "k1", "--out", dir]));
    expect(e.message).toContain('already has a key with kid "k1"');
    expect((await readdir(dir)).sort()).toEqual(before.filter((f) => f !== "k1.private.jwk.json").sort());
  });

  it("never overwrites a private key file", async () => {
    const pair = generateIssuerKeyPair("EdDSA", "k2");
    await writeFile(join(dir, "k2.private.jwk.json"), "precious");
    await expect(writeIssuerKeyFiles(dir, pair)).rejects.toThrow(/already exists; a private key is never overwritten/);
    expect(await readFile(join(dir, "k2.private.jwk.json"), "utf8")).toBe("precious");
  });

  it("refuses to add to an invalid key set", async () => {
    await writeFile(join(dir, "issuer-keys.jwks.json"), JSON.stringify({ keys: [{ kty: "oct", kid: "s", k: "AA" }] }));
    const e = await cliError(keys(["gen", "--kid", "k3", "--out", dir]));
    expect(e.message).toContain("keys[0]: kty: symmetric keys (oct) are not allowed");
    expect(await readdir(dir)).toEqual(["issuer-keys.jwks.json"]);
  });

  it("creates the output directory", async () => {
    await keys(["gen", "--kid", "k4", "--out", join(dir, "a", "b")]);
    expect(await readdir(join(dir, "a", "b"))).toContain("k4.private.jwk.json");
  });

  it("refuses an unknown --alg", async () => {
    expect((await cliError(keys(["gen", "--alg", "RS256", "--out", dir]))).message).toBe(
      "keys gen: --alg must be EdDSA or ES256, got 'RS256'",
    );
  });

  it("refuses a kid that is not safe as a file name", async () => {
    expect((await cliError(keys(["gen", "--kid", "../x", "--out", dir]))).message).toContain("keys gen: --kid must be");
  });

  it("refuses an unknown option", async () => {
    expect((await cliError(keys(["gen", "--bogus"]))).message).toMatch(/^keys: Unknown option '--bogus'/);
  });

  it("refuses a missing or unknown subcommand", async () => {
    expect((await cliError(keys([]))).message).toMatch(/^keys: missing subcommand/);
    expect((await cliError(keys(["make"]))).message).toMatch(/^keys: unknown subcommand 'make'/);
  });

  it("prints help with --help", async () => {
    expect(await keys(["gen", "--help"])).toBe(0);
    expect(stdout()).toMatch(/^usage: qrgate keys gen/);
  });
});

describe("qrgate pass sign", () => {
  const NOW = 1_700_000_000;

  async function issuer(alg: "EdDSA" | "ES256"): Promise<{ key: string; jwks: string }> {
    await keys(["gen", "--alg", alg, "--kid", `i-${alg}`, "--out", dir]);
    out.length = 0;
    return { key: join(dir, `i-${alg}.private.jwk.json`), jwks: join(dir, "issuer-keys.jwks.json") };
  }

  for (const alg of ["EdDSA", "ES256"] as const) {
    it(`prints a ${alg} pass that a gate with the key set accepts`, async () => {
      const { key, jwks } = await issuer(alg);
      const argv = ["sign", "--key", key, "--sub", "001099012345", "--ttl", "120", "--iat", String(NOW), "--jti", "p-1", "--name", "Nguyễn Văn An"];
      expect(await pass(argv)).toBe(0);
      const text = stdout().trimEnd();
      expect(text).toMatch(/^QG1:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      const r = verifyPass(text, { keys: await readJwksFile(jwks), nowS: NOW + 60, skewS: 30, replay: new Set() });
      expect(r).toEqual({
        ok: true,
        value: { kind: "pass", sub: "001099012345", iat: NOW, exp: NOW + 120, jti: "p-1", kid: `i-${alg}`, name: "Nguyễn Văn An" },
      });
    });
  }

  it("defaults to now, 300 s and a random UUID jti", async () => {
    const { key, jwks } = await issuer("EdDSA");
    const before = Math.floor(Date.now() / 1000);
    await pass(["sign", "--key", key, "--sub", "001099012345"]);
    const r = verifyPass(stdout().trimEnd(), { keys: await readJwksFile(jwks), nowS: before, skewS: 30, replay: new Set() });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.exp - r.value.iat).toBe(300);
    expect(r.value.iat - before).toBeLessThanOrEqual(2);
    expect(r.value.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  const bad: [string, string[], string][] = [
    ["a missing --sub", ["sign", "--key", "K"], "pass sign: --sub ID is required"],
    ["a missing --key", ["sign", "--sub", "001099012345"], "pass sign: --key PRIVATE_JWK_FILE is required"],
    ["an 11-digit --sub", ["sign", "--key", "K", "--sub", "00109901234"], "pass sign: --sub must be 12 digits"],
    ["a --ttl over 600", ["sign", "--key", "K", "--sub", "001099012345", "--ttl", "601"], "pass sign: --ttl must be 1 to 600 seconds, got 601"],
    ["a --ttl that is not a number", ["sign", "--key", "K", "--sub", "001099012345", "--ttl", "5m"], "pass sign: --ttl must be an integer, got '5m'"],
    ["an --iat that is not a number", ["sign", "--key", "K", "--sub", "001099012345", "--iat", "now"], "pass sign: --iat must be an integer, got 'now'"],
    ["an empty --jti", ["sign", "--key", "K", "--sub", "001099012345", "--jti", ""], "pass sign: --jti must be 1 to 128 characters"],
  ];
  for (const [what, argv, message] of bad) {
    it(`refuses ${what}`, async () => {
      expect((await cliError(pass(argv))).message).toBe(message);
    });
  }

  it("refuses a key file that is the public key set", async () => {
    const { jwks } = await issuer("EdDSA");
    const e = await cliError(pass(["sign", "--key", jwks, "--sub", "001099012345"]));
    expect(e.message).toMatch(/not a private key/);
  });

  it("refuses a key file that does not exist", async () => {
    const e = await cliError(pass(["sign", "--key", join(dir, "none.json"), "--sub", "001099012345"]));
    expect(e.message).toMatch(/does not exist/);
  });

  it("warns when the private key file is readable by others", async () => {
    const { key } = await issuer("EdDSA");
    await chmod(key, 0o644);
    await pass(["sign", "--key", key, "--sub", "001099012345"]);
    expect(errOut.join("")).toContain("is readable by others; chmod 600 it");
  });

  it("prints help with --help", async () => {
    expect(await pass(["--help"])).toBe(0);
    expect(stdout()).toMatch(/^usage: qrgate pass sign/);
  });
});
