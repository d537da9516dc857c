import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64Url, encodeBase64Url, splitCompactJws } from "../../src/core/jws.js";

const list = (u: Uint8Array | null): number[] | null => (u === null ? null : [...u]);

describe("decodeBase64Url: strict", () => {
  it("decodes unpadded base64url", () => {
    expect(list(decodeBase64Url("-_8"))).toEqual([0xfb, 0xff]);
  });

  it("decodes the empty string to no bytes", () => {
    expect(list(decodeBase64Url(""))).toEqual([]);
  });

  const refused: [string, string][] = [
    ["padding", "-_8="],
    ["standard base64 '+'", "+/8"],
    ["standard base64 '/'", "ab/8"],
    ["whitespace", "ab c"],
    ["a line break", "abcd\nabcd"],
    ["a non-ASCII letter", "abcé"],
    ["a length of 4n+1", "abcde"],
    ["non-zero spare bits in the last of 2 characters", "AB"],
    ["non-zero spare bits in the last of 3 characters", "AAB"],
  ];
  for (const [what, s] of refused) {
    it(`refuses ${what}`, () => {
      expect(decodeBase64Url(s)).toBeNull();
    });
  }

  it("round-trips any bytes, and only the canonical encoding decodes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const s = encodeBase64Url(bytes);
        expect(list(decodeBase64Url(s))).toEqual([...bytes]);
      }),
    );
  });

  it("never throws on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        const r = decodeBase64Url(s);
        if (r !== null) expect(encodeBase64Url(r)).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("splitCompactJws", () => {
  const h = encodeBase64Url('{"alg":"EdDSA","kid":"k"}');

  it("splits three parts and exposes the signing input", () => {
    const r = splitCompactJws(`${h}.${encodeBase64Url("{}")}.AAAA`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toEqual({ alg: "EdDSA", kid: "k" });
    expect(Buffer.from(r.value.payload).toString()).toBe("{}");
    expect(list(r.value.signature)).toEqual([0, 0, 0]);
    expect(Buffer.from(r.value.signingInput).toString()).toBe(`${h}.${encodeBase64Url("{}")}`);
  });

  it("allows an empty payload and signature", () => {
    expect(splitCompactJws(`${h}..`).ok).toBe(true);
  });

  const failures: [string, string, { part: string; detail: string }][] = [
    ["no dot", "abc", { part: "token", detail: "truncated: expected 3 parts separated by '.', got 1" }],
    ["one dot", "abc.def", { part: "token", detail: "truncated: expected 3 parts separated by '.', got 2" }],
    ["three dots", "a.b.c.d", { part: "token", detail: "expected 3 parts separated by '.', got more (JWE and JSON serialization are not supported)" }],
    ["an empty header", ".e30.AAAA", { part: "header", detail: "empty" }],
    ["padding in the payload", `${h}.e30=.AAAA`, { part: "payload", detail: "not base64url: padding '=' at offset 3" }],
    ["a bad signature character", `${h}.e30.AA*A`, { part: "signature", detail: "not base64url: '*' at offset 2" }],
    ["a header that is JSON null", `${encodeBase64Url("null")}.e30.AAAA`, { part: "header", detail: "expected a JSON object" }],
    ["a header with a BOM", `${encodeBase64Url("\uFEFF{}")}.e30.AAAA`, { part: "header", detail: "not JSON" }],
  ];
  for (const [what, token, error] of failures) {
    it(`fails on ${what}`, () => {
      expect(splitCompactJws(token)).toEqual({ ok: false, error });
    });
  }
});
