import { generateKeyPairSync, type JsonWebKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseJwks } from "../../src/core/jwks.js";
import { verifyPass } from "../../src/core/pass.js";
import { signPass } from "../../src/issuer/pass-signer.js";

const ed = generateKeyPairSync("ed25519");
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const edJwk = (over: Record<string, unknown> = {}): JsonWebKey => ({ ...ed.publicKey.export({ format: "jwk" }), kid: "ed", ...over });
const ecJwk = (over: Record<string, unknown> = {}): JsonWebKey => ({ ...ec.publicKey.export({ format: "jwk" }), kid: "ec", ...over });

function problems(json: unknown): string[] {
  const r = parseJwks(json);
  if (r.ok) throw new Error("expected problems");
  return r.error;
}

describe("parseJwks: accepted", () => {
  it("reads an Ed25519 key as EdDSA and a P-256 key as ES256", () => {
    const r = parseJwks({ keys: [edJwk({ alg: "EdDSA", use: "sig" }), ecJwk({ alg: "ES256", key_ops: ["verify"] })] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect([...r.value.values()].map((k) => [k.kid, k.alg, k.key.type, k.key.asymmetricKeyType])).toEqual([
      ["ed", "EdDSA", "public", "ed25519"],
      ["ec", "ES256", "public", "ec"],
    ]);
  });

  it("yields keys that verify passes of both algorithms", () => {
    const r = parseJwks({ keys: [edJwk(), ecJwk()] });
    if (!r.ok) throw new Error(r.error.join("; "));
    const ctx = { keys: r.value, nowS: 1_000, skewS: 30, replay: { has: () => false } };
    const a = signPass({ privateKey: ed.privateKey, kid: "ed", alg: "EdDSA", sub: "001099012345", ttlS: 60, nowS: 1_000 });
    const b = signPass({ privateKey: ec.privateKey, kid: "ec", alg: "ES256", sub: "001099012345", ttlS: 60, nowS: 1_000 });
    expect(verifyPass(a, ctx).ok).toBe(true);
    expect(verifyPass(b, ctx).ok).toBe(true);
  });

  it("accepts an empty key set (every issuer revoked)", () => {
    const r = parseJwks({ keys: [] });
    expect(r.ok && r.value.size).toBe(0);
  });

  it("ignores members it does not use, such as x5c", () => {
    expect(parseJwks({ keys: [edJwk({ x5c: ["…"], ext: true })] }).ok).toBe(true);
  });
});

describe("parseJwks: problems, each with its place", () => {
  const pub = ed.publicKey.export({ format: "jwk" });
  const cases: [string, unknown, string[]][] = [
    ["a document that is not an object", [edJwk()], ['expected a JSON object {"keys": [...]}']],
    ["keys that is not an array", { keys: edJwk() }, ["keys: expected an array"]],
    ["a key that is not an object", { keys: [edJwk(), "k"] }, ["keys[1]: expected a JSON object"]],
    [
      "a private key",
      { keys: [{ ...ed.privateKey.export({ format: "jwk" }), kid: "ed" }] },
      ['keys[0]: is a private key (has "d"): publish only the public key; keep the private one on the issuer'],
    ],
    ["a missing kid", { keys: [pub] }, ["keys[0]: kid: expected a non-empty string (passes name their key by kid)"]],
    ["a kid over 64 characters", { keys: [edJwk({ kid: "k".repeat(65) })] }, ["keys[0]: kid: expected at most 64 characters, got 65"]],
    ["an alg that disagrees with the key", { keys: [edJwk({ alg: "ES256" })] }, ['keys[0]: alg: "ES256" does not agree with the key type (OKP Ed25519 is EdDSA)']],
    ["use enc", { keys: [edJwk({ use: "enc" })] }, ['keys[0]: use: expected "sig", got "enc"']],
    ["key_ops without verify", { keys: [edJwk({ key_ops: ["sign"] })] }, ['keys[0]: key_ops: expected an array including "verify"']],
    ["an RSA key", { keys: [{ kty: "RSA", kid: "r", n: "AQAB", e: "AQAB" }] }, ['keys[0]: kty: expected OKP (Ed25519) or EC (P-256), got "RSA"']],
    ["a symmetric key", { keys: [{ kty: "oct", kid: "s", k: "AAAA" }] }, ["keys[0]: kty: symmetric keys (oct) are not allowed: passes are verified with public keys only"]],
    ["an X25519 key", { keys: [edJwk({ crv: "X25519" })] }, ['keys[0]: crv: expected Ed25519 for kty OKP, got "X25519"']],
    ["a P-384 key", { keys: [ecJwk({ crv: "P-384" })] }, ['keys[0]: crv: expected P-256 for kty EC, got "P-384"']],
    ["an unsupported alg on an unsupported key", { keys: [{ kty: "RSA", kid: "r", alg: "RS256" }] }, ['keys[0]: kty: expected OKP (Ed25519) or EC (P-256), got "RSA"', 'keys[0]: alg: expected EdDSA or ES256, got "RS256"']],
    ["a short x", { keys: [edJwk({ x: "AAAA" })] }, ["keys[0]: x: expected 32 bytes, got 3"]],
    ["a padded x", { keys: [edJwk({ x: `${pub.x ?? ""}=` })] }, ["keys[0]: x: not canonical unpadded base64url"]],
    ["a missing y", { keys: [ecJwk({ y: undefined })] }, ["keys[0]: y: expected a base64url string"]],
    ["duplicate kids", { keys: [edJwk({ kid: "a" }), ecJwk({ kid: "b" }), ecJwk({ kid: "a" })] }, ['keys[2]: kid "a" is already used by keys[0]']],
    [
      "several problems in several keys",
      { keys: [edJwk({ use: "enc" }), ecJwk(), { kty: "oct", kid: "ed" }] },
      [
        'keys[0]: use: expected "sig", got "enc"',
        "keys[2]: kty: symmetric keys (oct) are not allowed: passes are verified with public keys only",
        'keys[2]: kid "ed" is already used by keys[0]',
      ],
    ],
  ];
  for (const [what, json, expected] of cases) {
    it(`reports ${what}`, () => {
      expect(problems(json)).toEqual(expected);
    });
  }

  it("reports an EC point that is not on the curve", () => {
    const [p] = problems({ keys: [ecJwk({ y: ecJwk().x })] });
    expect(p).toMatch(/^keys\[0\]: not a valid P-256 public key \(/);
  });
});
