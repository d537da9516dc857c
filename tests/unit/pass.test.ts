import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import type { Rejection } from "../../src/core/credential.js";
import type { IssuerKey, IssuerKeySet, PassAlgorithm, ReplaySet } from "../../src/core/issuer-keys.js";
import { encodeBase64Url } from "../../src/core/jws.js";
import { verifyPass, type PassContext } from "../../src/core/pass.js";
import { signPass } from "../../src/issuer/pass-signer.js";

const NOW = 1_700_000_000;
const SKEW = 30;
const SUB = "001099012345";

const ed = generateKeyPairSync("ed25519");
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const otherEd = generateKeyPairSync("ed25519");

const KEYS: IssuerKeySet = new Map<string, IssuerKey>([
  ["ed", { kid: "ed", alg: "EdDSA", key: ed.publicKey }],
  ["ec", { kid: "ec", alg: "ES256", key: ec.publicKey }],
]);
const NO_REPLAY: ReplaySet = { has: () => false };
const ctx = (over: Partial<PassContext> = {}): PassContext => ({ keys: KEYS, nowS: NOW, skewS: SKEW, replay: NO_REPLAY, ...over });

const edPass = (over: Partial<Parameters<typeof signPass>[0]> = {}): string =>
  signPass({ privateKey: ed.privateKey, kid: "ed", alg: "EdDSA", sub: SUB, ttlS: 300, nowS: NOW, jti: "j-1", ...over });

/** Signs arbitrary header and claims (for the passes `signPass` refuses to make). */
function signRaw(header: object, claims: unknown, key: KeyObject = ed.privateKey, alg: PassAlgorithm = "EdDSA"): string {
  const input = `${encodeBase64Url(JSON.stringify(header))}.${encodeBase64Url(typeof claims === "string" ? claims : JSON.stringify(claims))}`;
  const data = Buffer.from(input);
  const sig = alg === "EdDSA" ? cryptoSign(null, data, key) : cryptoSign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
  return `QG1:${input}.${encodeBase64Url(sig)}`;
}

const CLAIMS = { sub: SUB, iat: NOW, exp: NOW + 300, jti: "j-1" };

function rejection(text: string, c: PassContext = ctx()): Rejection {
  const r = verifyPass(text, c);
  if (r.ok) throw new Error("expected a rejection");
  expect(r.error.kind).toBe("pass");
  return r.error;
}

describe("verifyPass: good passes", () => {
  it("accepts an EdDSA pass", () => {
    expect(verifyPass(edPass(), ctx())).toEqual({
      ok: true,
      value: { kind: "pass", sub: SUB, iat: NOW, exp: NOW + 300, jti: "j-1", kid: "ed" },
    });
  });

  it("accepts an ES256 pass", () => {
    const text = signPass({ privateKey: ec.privateKey, kid: "ec", alg: "ES256", sub: SUB, ttlS: 600, nowS: NOW, jti: "j-2" });
    expect(verifyPass(text, ctx())).toMatchObject({ ok: true, value: { kid: "ec", exp: NOW + 600, jti: "j-2" } });
  });

  it("returns the optional name in NFC", () => {
    const r = verifyPass(edPass({ name: "Nguyễn Văn An".normalize("NFD") }), ctx());
    expect(r.ok && r.value.name).toBe("Nguyễn Văn An".normalize("NFC"));
  });

  it("tolerates a trailing CR LF", () => {
    expect(verifyPass(edPass() + "\r\n", ctx()).ok).toBe(true);
  });

  it("accepts a lifetime of exactly 600 s", () => {
    expect(verifyPass(signRaw({ alg: "EdDSA", kid: "ed" }, { ...CLAIMS, exp: NOW + 600 }), ctx()).ok).toBe(true);
  });

  it("ignores unknown header members such as jwk and jku", () => {
    const text = signRaw({ alg: "EdDSA", kid: "ed", typ: "JWT", jku: "https://evil.example/", jwk: { kty: "OKP" } }, CLAIMS);
    expect(verifyPass(text, ctx()).ok).toBe(true);
  });
});

describe("verifyPass: keys and signatures", () => {
  it("rejects a pass signed by another key under a known kid as bad_signature", () => {
    expect(rejection(edPass({ privateKey: otherEd.privateKey }))).toEqual({
      kind: "pass",
      reason: "bad_signature",
      detail: 'signature does not verify with key "ed"',
    });
  });

  it("rejects an unknown kid as unknown_key", () => {
    expect(rejection(edPass({ kid: "retired-2021" }))).toMatchObject({
      reason: "unknown_key",
      detail: 'no issuer key with kid "retired-2021"',
    });
  });

  it("rejects alg none (an empty signature) as bad_signature", () => {
    const text = `QG1:${encodeBase64Url(JSON.stringify({ alg: "none", kid: "ed" }))}.${encodeBase64Url(JSON.stringify(CLAIMS))}.`;
    expect(rejection(text)).toEqual({
      kind: "pass",
      reason: "bad_signature",
      detail: 'header alg "none" is not EdDSA, the algorithm of key "ed"',
    });
  });

  it("rejects HS256 keyed with the public key (algorithm confusion) as bad_signature", () => {
    const input = `${encodeBase64Url(JSON.stringify({ alg: "HS256", kid: "ec" }))}.${encodeBase64Url(JSON.stringify(CLAIMS))}`;
    const secret = ec.publicKey.export({ format: "der", type: "spki" });
    const mac = createHmac("sha256", secret).update(input).digest();
    expect(rejection(`QG1:${input}.${encodeBase64Url(mac)}`)).toMatchObject({
      reason: "bad_signature",
      detail: 'header alg "HS256" is not ES256, the algorithm of key "ec"',
    });
  });

  it("rejects an ES256 header on an Ed25519 key as bad_signature", () => {
    expect(rejection(signRaw({ alg: "ES256", kid: "ed" }, CLAIMS))).toMatchObject({
      reason: "bad_signature",
      detail: 'header alg "ES256" is not EdDSA, the algorithm of key "ed"',
    });
  });

  it("rejects an EdDSA header on a P-256 key as bad_signature", () => {
    expect(rejection(signRaw({ alg: "EdDSA", kid: "ec" }, CLAIMS))).toMatchObject({ reason: "bad_signature" });
  });

  it("rejects an ES256 signature in DER form as bad_signature", () => {
    const input = `${encodeBase64Url(JSON.stringify({ alg: "ES256", kid: "ec" }))}.${encodeBase64Url(JSON.stringify(CLAIMS))}`;
    const der = cryptoSign("sha256", Buffer.from(input), ec.privateKey);
    expect(rejection(`QG1:${input}.${encodeBase64Url(der)}`)).toMatchObject({
      reason: "bad_signature",
      detail: expect.stringMatching(/^signature: expected 64 bytes for ES256, got 7\d$/),
    });
  });

  it("rejects a signature two characters short (63 bytes) as bad_signature", () => {
    const r = rejection(edPass().slice(0, -2));
    expect(r).toMatchObject({ reason: "bad_signature", detail: "signature: expected 64 bytes for EdDSA, got 63" });
  });

  it("rejects a signature one character short (impossible base64url length) as bad_format", () => {
    expect(rejection(edPass().slice(0, -1))).toMatchObject({
      reason: "bad_format",
      detail: "signature: not base64url: length 85 is impossible (leaves 6 stray bits)",
    });
  });

  it("does not look at the claims of a pass whose signature fails", () => {
    const forged = signRaw({ alg: "EdDSA", kid: "ed" }, { sub: "x", iat: "soon" }, otherEd.privateKey);
    expect(rejection(forged).reason).toBe("bad_signature");
  });

  it("does not consult the replay set before the signature verifies", () => {
    const has = vi.fn(() => true);
    expect(rejection(edPass({ privateKey: otherEd.privateKey }), ctx({ replay: { has } })).reason).toBe("bad_signature");
    expect(has).not.toHaveBeenCalled();
  });

  it("reports an unknown kid before a bad signature", () => {
    expect(rejection(edPass({ kid: "nope", privateKey: otherEd.privateKey })).reason).toBe("unknown_key");
  });
});

describe("verifyPass: format", () => {
  const h = encodeBase64Url(JSON.stringify({ alg: "EdDSA", kid: "ed" }));
  const p = encodeBase64Url(JSON.stringify(CLAIMS));
  const cases: { it: string; text: string; detail: string }[] = [
    { it: "rejects text without the QG1: prefix", text: "QG2:" + edPass().slice(4), detail: "expected the prefix QG1:" },
    { it: "rejects a token truncated to two parts", text: `QG1:${h}.${p}`, detail: "token: truncated: expected 3 parts separated by '.', got 2" },
    { it: "rejects a token truncated to one part", text: `QG1:${h}`, detail: "token: truncated: expected 3 parts separated by '.', got 1" },
    { it: "rejects four parts", text: `QG1:${h}.${p}.a.b`, detail: "token: expected 3 parts separated by '.', got more (JWE and JSON serialization are not supported)" },
    { it: "rejects an empty header", text: `QG1:.${p}.AAAA`, detail: "header: empty" },
    { it: "rejects base64 padding", text: `QG1:${h}=.${p}.AAAA`, detail: expect.stringContaining("header: not base64url: padding '='") },
    { it: "rejects standard base64 characters", text: `QG1:${h}.${p}+.AAAA`, detail: expect.stringContaining("payload: not base64url: '+'") },
    { it: "rejects a space in the signature", text: `QG1:${h}.${p}.AA AA`, detail: "signature: not base64url: ' ' at offset 2" },
    { it: "rejects a header that is not JSON", text: `QG1:${encodeBase64Url("{alg:EdDSA}")}.${p}.AAAA`, detail: "header: not JSON" },
    { it: "rejects a header that is a JSON array", text: `QG1:${encodeBase64Url("[1]")}.${p}.AAAA`, detail: "header: expected a JSON object" },
    { it: "rejects a header that is not UTF-8", text: `QG1:${encodeBase64Url(Uint8Array.from([0x7b, 0xff, 0x7d]))}.${p}.AAAA`, detail: "header: not valid UTF-8" },
    { it: "rejects a header without alg", text: `QG1:${encodeBase64Url('{"kid":"ed"}')}.${p}.AAAA`, detail: "header: alg missing" },
    { it: "rejects a header alg that is not a string", text: `QG1:${encodeBase64Url('{"alg":1,"kid":"ed"}')}.${p}.AAAA`, detail: "header: alg must be a string" },
    { it: "rejects a header without kid", text: `QG1:${encodeBase64Url('{"alg":"EdDSA"}')}.${p}.AAAA`, detail: "header: kid missing" },
    { it: "rejects an empty kid", text: `QG1:${encodeBase64Url('{"alg":"EdDSA","kid":""}')}.${p}.AAAA`, detail: "header: kid must be a non-empty string" },
    { it: "rejects a crit header", text: `QG1:${encodeBase64Url('{"alg":"EdDSA","kid":"ed","crit":["b64"],"b64":false}')}.${p}.AAAA`, detail: "header: crit is not supported (no extensions are)" },
    { it: "rejects a text longer than a QR code holds", text: "QG1:" + "A".repeat(3000), detail: "pass is 3004 characters; a QR code holds at most 2953" },
  ];
  for (const c of cases) {
    it(c.it, () => {
      expect(rejection(c.text)).toEqual({ kind: "pass", reason: "bad_format", detail: c.detail });
    });
  }
});

describe("verifyPass: claims (checked after the signature)", () => {
  const hdr = { alg: "EdDSA", kid: "ed" };
  const cases: { it: string; claims: unknown; detail: string }[] = [
    { it: "rejects exp - iat over 600 s", claims: { ...CLAIMS, exp: NOW + 601 }, detail: "claims exp - iat: expected 1 to 600 s, got 601 s" },
    { it: "rejects exp equal to iat", claims: { ...CLAIMS, exp: NOW }, detail: "claims exp - iat: expected 1 to 600 s, got 0 s" },
    { it: "rejects exp before iat", claims: { ...CLAIMS, exp: NOW - 5 }, detail: "claims exp - iat: expected 1 to 600 s, got -5 s" },
    { it: "rejects an 11-digit sub", claims: { ...CLAIMS, sub: "00109901234" }, detail: "claim sub: expected 12 digits, got 11 characters" },
    { it: "rejects a numeric sub", claims: { ...CLAIMS, sub: 1099012345 }, detail: "claim sub: expected a string of 12 digits" },
    { it: "rejects a fractional iat", claims: { ...CLAIMS, iat: NOW + 0.5 }, detail: "claim iat: expected an integer (Unix seconds)" },
    { it: "rejects a string exp", claims: { ...CLAIMS, exp: String(NOW + 300) }, detail: "claim exp: expected an integer (Unix seconds)" },
    { it: "rejects a missing jti", claims: { sub: SUB, iat: NOW, exp: NOW + 1 }, detail: "claim jti: expected a string of 1 to 128 characters" },
    { it: "rejects an empty jti", claims: { ...CLAIMS, jti: "" }, detail: "claim jti: expected a string of 1 to 128 characters" },
    { it: "rejects a jti over 128 characters", claims: { ...CLAIMS, jti: "j".repeat(129) }, detail: "claim jti: expected a string of 1 to 128 characters" },
    { it: "rejects a name that is not a string", claims: { ...CLAIMS, name: 7 }, detail: "claim name: expected a string of at most 256 characters" },
    { it: "rejects a payload that is not JSON", claims: "sub=001099012345", detail: "payload: not JSON" },
    { it: "rejects a payload that is a JSON array", claims: [CLAIMS], detail: "payload: expected a JSON object" },
  ];
  for (const c of cases) {
    it(c.it, () => {
      expect(rejection(signRaw(hdr, c.claims))).toEqual({ kind: "pass", reason: "bad_format", detail: c.detail });
    });
  }
});

describe("verifyPass: time and replay", () => {
  const exp = NOW + 300;
  it("accepts a pass exactly at exp + skew", () => {
    expect(verifyPass(edPass(), ctx({ nowS: exp + SKEW })).ok).toBe(true);
  });

  it("rejects a pass one second after exp + skew as expired", () => {
    expect(rejection(edPass(), ctx({ nowS: exp + SKEW + 1 }))).toEqual({
      kind: "pass",
      reason: "expired",
      detail: `expired at ${exp}, ${SKEW + 1} s before now ${exp + SKEW + 1} (skew ${SKEW} s)`,
      subject: SUB,
    });
  });

  it("accepts a pass issued exactly skew seconds in the future", () => {
    expect(verifyPass(edPass(), ctx({ nowS: NOW - SKEW })).ok).toBe(true);
  });

  it("rejects a pass issued skew + 1 seconds in the future as not yet valid", () => {
    expect(rejection(edPass(), ctx({ nowS: NOW - SKEW - 1 }))).toEqual({
      kind: "pass",
      reason: "not_yet_valid",
      detail: `issued at ${NOW}, ${SKEW + 1} s ahead of now ${NOW - SKEW - 1} (skew ${SKEW} s)`,
      subject: SUB,
    });
  });

  it("rejects a replayed jti", () => {
    const seen = new Set(["j-1"]);
    expect(rejection(edPass(), ctx({ replay: seen }))).toEqual({
      kind: "pass",
      reason: "replayed",
      detail: "this pass (its jti) was already used on this device",
      subject: SUB,
    });
  });

  it("checks time before replay: an expired replayed pass is expired", () => {
    expect(rejection(edPass(), ctx({ nowS: NOW + 1000, replay: new Set(["j-1"]) })).reason).toBe("expired");
  });
});

describe("verifyPass: nbf", () => {
  const hdr = { alg: "EdDSA", kid: "ed" };
  it("rejects a pass whose nbf is 120 s ahead as not yet valid", () => {
    expect(rejection(signRaw(hdr, { ...CLAIMS, nbf: NOW + 120 }))).toEqual({
      kind: "pass",
      reason: "not_yet_valid",
      detail: `not before ${NOW + 120}, 120 s ahead of now ${NOW} (skew ${SKEW} s)`,
      subject: SUB,
    });
  });

  it("accepts a pass whose nbf is exactly skew seconds ahead", () => {
    expect(verifyPass(signRaw(hdr, { ...CLAIMS, nbf: NOW + SKEW }), ctx()).ok).toBe(true);
  });

  it("rejects nbf one second past the skew", () => {
    expect(rejection(signRaw(hdr, { ...CLAIMS, nbf: NOW + SKEW + 1 })).reason).toBe("not_yet_valid");
  });

  it("accepts a pass whose nbf has passed", () => {
    expect(verifyPass(signRaw(hdr, { ...CLAIMS, nbf: NOW - 10 }), ctx()).ok).toBe(true);
  });

  it.each([["a string", String(NOW)], ["a fraction", NOW + 0.5], ["null", null]])("rejects an nbf that is %s as bad_format", (_what, nbf) => {
    expect(rejection(signRaw(hdr, { ...CLAIMS, nbf }))).toEqual({
      kind: "pass",
      reason: "bad_format",
      detail: "claim nbf: expected an integer (Unix seconds)",
    });
  });
});

describe("verifyPass: duplicate member names (JSON.parse would keep the last)", () => {
  /** Signs raw header and payload text, so the JSON can hold a name twice. */
  function signText(header: string, payload: string): string {
    const input = `${encodeBase64Url(header)}.${encodeBase64Url(payload)}`;
    return `QG1:${input}.${encodeBase64Url(cryptoSign(null, Buffer.from(input), ed.privateKey))}`;
  }
  const claims = `"iat":${NOW},"exp":${NOW + 300},"jti":"j-1"`;
  const cases: { it: string; header: string; payload: string; detail: string }[] = [
    { it: "a sub given twice in the payload", header: '{"alg":"EdDSA","kid":"ed"}', payload: `{"sub":"079188001234",${claims},"sub":"${SUB}"}`, detail: 'payload: member "sub" appears twice' },
    { it: "a name written once plainly and once escaped", header: '{"alg":"EdDSA","kid":"ed"}', payload: `{"sub":"${SUB}",${claims},"\u0073ub":"079188001234"}`, detail: 'payload: member "sub" appears twice' },
    { it: "an exp given twice", header: '{"alg":"EdDSA","kid":"ed"}', payload: `{"sub":"${SUB}",${claims},"exp":${NOW + 99999}}`, detail: 'payload: member "exp" appears twice' },
    { it: "a name twice in a nested object", header: '{"alg":"EdDSA","kid":"ed"}', payload: `{"sub":"${SUB}",${claims},"x":{"a":1,"a":2}}`, detail: 'payload: member "a" appears twice' },
    { it: "an alg given twice in the header", header: '{"alg":"none","kid":"ed","alg":"EdDSA"}', payload: `{"sub":"${SUB}",${claims}}`, detail: 'header: member "alg" appears twice' },
    { it: "a kid given twice in the header", header: '{"alg":"EdDSA","kid":"ec","kid":"ed"}', payload: `{"sub":"${SUB}",${claims}}`, detail: 'header: member "kid" appears twice' },
  ];
  for (const c of cases) {
    it(`rejects ${c.it} as bad_format`, () => {
      expect(rejection(signText(c.header, c.payload))).toEqual({ kind: "pass", reason: "bad_format", detail: c.detail });
    });
  }

  it("accepts the same name in two different objects, and a value equal to a name", () => {
    const text = signText('{"alg":"EdDSA","kid":"ed"}', `{"sub":"${SUB}",${claims},"a":{"sub":"x"},"b":"sub","c":["sub","sub"]}`);
    expect(verifyPass(text, ctx()).ok).toBe(true);
  });
});

describe("verifyPass: properties", () => {
  it("never throws on arbitrary strings, with or without the prefix", () => {
    fc.assert(
      fc.property(fc.constantFrom("", "QG1:"), fc.string({ unit: "binary", maxLength: 400 }), (prefix, s) => {
        expect(typeof verifyPass(prefix + s, ctx()).ok).toBe("boolean");
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws on strings built from JWS characters", () => {
    const jwsChar = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/");
    fc.assert(
      fc.property(fc.string({ unit: jwsChar, maxLength: 300 }), (s) => {
        expect(typeof verifyPass("QG1:" + s, ctx()).ok).toBe("boolean");
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws on 10 kB inputs", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 10_000, maxLength: 10_240 }), (s) => {
        expect(verifyPass("QG1:" + s, ctx()).ok).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  const passArb = fc.record({
    alg: fc.constantFrom<PassAlgorithm>("EdDSA", "ES256"),
    sub: fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 12, maxLength: 12 }),
    ttlS: fc.integer({ min: 1, max: 600 }),
    jti: fc.string({ minLength: 1, maxLength: 128 }),
    name: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
  });
  const sign = (g: { alg: PassAlgorithm; sub: string; ttlS: number; jti: string; name: string | undefined }): string =>
    signPass({
      privateKey: g.alg === "EdDSA" ? ed.privateKey : ec.privateKey,
      kid: g.alg === "EdDSA" ? "ed" : "ec",
      alg: g.alg,
      sub: g.sub,
      ttlS: g.ttlS,
      nowS: NOW,
      jti: g.jti,
      ...(g.name === undefined ? {} : { name: g.name }),
    });

  it("verifies every generated signed pass", () => {
    fc.assert(
      fc.property(passArb, (g) => {
        const r = verifyPass(sign(g), ctx());
        expect(r).toMatchObject({ ok: true, value: { sub: g.sub, jti: g.jti, exp: NOW + g.ttlS } });
      }),
      { numRuns: 300 },
    );
  });

  it("rejects any single-character change of a signed pass as bad_signature or bad_format", () => {
    // A change inside the header can, rarely, still decode to JSON naming another kid: that is unknown_key.
    fc.assert(
      fc.property(passArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (g, at, byte) => {
        const text = sign(g);
        const i = at % text.length;
        fc.pre(text.charCodeAt(i) !== byte);
        const mutated = text.slice(0, i) + String.fromCharCode(byte) + text.slice(i + 1);
        const r = verifyPass(mutated, ctx());
        expect(r.ok).toBe(false);
        if (!r.ok) expect(["bad_signature", "bad_format", "unknown_key"]).toContain(r.error.reason);
      }),
      { numRuns: 1500 },
    );
  });

  it("rejects a change in the signature's last character even where base64url has spare bits", () => {
    const text = edPass();
    const last = text.at(-1) ?? "";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const c of alphabet) {
      if (c === last) continue;
      const r = verifyPass(text.slice(0, -1) + c, ctx());
      expect(r.ok).toBe(false);
    }
  });
});
