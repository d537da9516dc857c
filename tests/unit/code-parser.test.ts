import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyCode, MAX_CODE_BYTES, parseCode, PREFIXED_CODES, type ParseContext } from "../../src/core/code-parser.js";
import type { IssuerKey } from "../../src/core/issuer-keys.js";
import { signPass } from "../../src/issuer/pass-signer.js";

const CARD = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021";
const NOW = 1_700_000_000;

const ed = generateKeyPairSync("ed25519");
const issuer: IssuerKey = { kid: "k1", alg: "EdDSA", key: ed.publicKey };
const ctx: ParseContext = { keys: new Map([["k1", issuer]]), nowS: NOW, skewS: 30, replay: { has: () => false } };
const pass = signPass({ privateKey: ed.privateKey, kid: "k1", alg: "EdDSA", sub: "001099012345", ttlS: 300, nowS: NOW, jti: "j1" });

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (...parts: (Uint8Array | number[])[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

function rejection(bytes: Uint8Array): { kind: string; reason: string; detail: string } {
  const r = parseCode(bytes, ctx);
  if (r.ok) throw new Error("expected a rejection");
  return r.error;
}

describe("classifyCode / parseCode: routing", () => {
  it("routes a card code to the CCCD parser", () => {
    const r = classifyCode(utf8(CARD));
    expect(r.ok && r.value.kind).toBe("cccd");
    expect(parseCode(utf8(CARD), ctx)).toMatchObject({ ok: true, value: { kind: "cccd", id: "001099012345", dob: "1990-01-01" } });
  });

  it("routes QG1: to the pass verifier", () => {
    const r = classifyCode(utf8(pass));
    expect(r.ok && r.value.kind).toBe("pass");
    expect(parseCode(utf8(pass), ctx)).toMatchObject({ ok: true, value: { kind: "pass", sub: "001099012345", jti: "j1", kid: "k1" } });
  });

  it("refuses HC1: as an EU DCC that is not supported yet", () => {
    expect(rejection(utf8("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH"))).toEqual({
      kind: "unknown",
      reason: "bad_format",
      detail: "EU DCC (HC1:) is not supported yet",
    });
  });

  it("refuses a URL as neither a card nor a pass", () => {
    expect(rejection(utf8("https://example.com/?q=1"))).toEqual({
      kind: "unknown",
      reason: "bad_format",
      detail: "not a CCCD card code or a qrgate pass",
    });
  });

  it("sends any text with | to the CCCD parser, which names the problem", () => {
    expect(rejection(utf8("a|b"))).toEqual({
      kind: "cccd",
      reason: "bad_format",
      detail: 'expected 6, 7 or 11 fields separated by "|", got 2',
    });
  });

  it("reports a pass failure with kind pass", () => {
    expect(rejection(utf8("QG1:abc"))).toMatchObject({ kind: "pass", reason: "bad_format" });
  });

  it("keeps the registry an ordered list of prefixes", () => {
    expect(PREFIXED_CODES.map((c) => [c.prefix, c.kind])).toEqual([
      ["QG1:", "pass"],
      ["HC1:", "unknown"],
    ]);
  });
});

describe("classifyCode: cleaning and limits", () => {
  it("strips a leading UTF-8 BOM and a trailing CR LF", () => {
    const r = parseCode(concat([0xef, 0xbb, 0xbf], utf8(CARD), [0x0d, 0x0a]), ctx);
    expect(r).toMatchObject({ ok: true, value: { kind: "cccd", issuedOn: "2021-06-15" } });
  });

  it("strips trailing NULs from a pass", () => {
    expect(parseCode(concat(utf8(pass), [0, 0]), ctx)).toMatchObject({ ok: true, value: { kind: "pass" } });
  });

  it("reads NFD bytes and returns NFC text", () => {
    const r = parseCode(utf8(CARD.normalize("NFD")), ctx);
    expect(r.ok && r.value.kind === "cccd" && r.value.name).toBe("Nguyễn Văn An".normalize("NFC"));
  });

  it("refuses bytes that are not UTF-8 (a Shift-JIS or Latin-1 name)", () => {
    const latin1 = Uint8Array.from(Buffer.from("001099012345||Nguy\xe9n|01011990|Nam|x|15062021", "latin1"));
    expect(rejection(latin1)).toEqual({ kind: "unknown", reason: "bad_format", detail: "not valid UTF-8" });
  });

  it("refuses an overlong UTF-8 encoding", () => {
    expect(rejection(Uint8Array.from([0xc0, 0xaf]))).toMatchObject({ detail: "not valid UTF-8" });
  });

  it("refuses an empty code", () => {
    expect(rejection(new Uint8Array(0))).toMatchObject({ kind: "unknown", detail: "empty code" });
  });

  it("refuses a code that is only scanner noise", () => {
    expect(rejection(Uint8Array.from([0xef, 0xbb, 0xbf, 0x0d, 0x0a, 0x00]))).toMatchObject({ detail: "empty code" });
  });

  it("refuses a code longer than a QR code holds, giving both numbers", () => {
    expect(rejection(new Uint8Array(MAX_CODE_BYTES + 1).fill(0x41))).toEqual({
      kind: "unknown",
      reason: "bad_format",
      detail: "code is 2954 bytes; a QR code holds at most 2953",
    });
  });

  it("accepts a code of exactly 2953 bytes plus a CR LF suffix as far as size goes", () => {
    const r = classifyCode(concat(new Uint8Array(MAX_CODE_BYTES).fill(0x7c), [0x0d, 0x0a]));
    expect(r.ok).toBe(true);
  });

  it("refuses control characters with their code point and offset", () => {
    expect(rejection(utf8("001099012345|\u001b[2J|x"))).toEqual({
      kind: "unknown",
      reason: "bad_format",
      detail: "control character U+001B at offset 13",
    });
  });

  it("refuses a C1 control character", () => {
    expect(rejection(utf8("abc\u0085def"))).toMatchObject({ detail: "control character U+0085 at offset 3" });
  });
});

describe("parseCode: properties", () => {
  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        expect(typeof parseCode(bytes, ctx).ok).toBe("boolean");
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws on arbitrary bytes behind each prefix", () => {
    fc.assert(
      fc.property(fc.constantFrom("QG1:", "HC1:", "001099012345|", ""), fc.uint8Array({ maxLength: 300 }), (p, bytes) => {
        expect(typeof parseCode(concat(utf8(p), bytes), ctx).ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => {
        expect(typeof parseCode(utf8(s), ctx).ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on 10 kB inputs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10_000, maxLength: 10_240 }), (bytes) => {
        const r = parseCode(bytes, ctx);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 30 },
    );
  });
});
