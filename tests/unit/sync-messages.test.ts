import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyCentreJws } from "../../src/core/centre-jws.js";
import { encodeBase64Url } from "../../src/core/jws.js";
import {
  commandRefusal,
  MESSAGE_TYPE,
  parseCommand,
  parseSnapshotManifest,
  parseStatusDelta,
  sha256Hex,
  snapshotHash,
} from "../../src/core/sync-messages.js";
import { signCentreMessage } from "../../src/issuer/centre-key.js";

const centre = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");

describe("verifyCentreJws", () => {
  it("returns the payload of a message signed by the centre key", () => {
    const t = signCentreMessage(centre.privateKey, { type: "command", id: "x" });
    expect(verifyCentreJws(t, centre.publicKey, "command")).toEqual({ ok: true, value: { type: "command", id: "x" } });
  });

  it.each([
    ["another key", () => signCentreMessage(other.privateKey, { type: "command" }), "signature"],
    ["alg none", () => `${encodeBase64Url('{"alg":"none"}')}.${encodeBase64Url('{"type":"command"}')}.`, "signature"],
    ["HS256", () => `${encodeBase64Url('{"alg":"HS256"}')}.${encodeBase64Url('{"type":"command"}')}.${encodeBase64Url("x".repeat(32))}`, "signature"],
    ["a truncated token", () => signCentreMessage(centre.privateKey, { type: "command" }).split(".").slice(0, 2).join("."), "format"],
    ["another type", () => signCentreMessage(centre.privateKey, { type: "issuer-keys" }), "format"],
    ["a header changed after signing", () => {
      const h = encodeBase64Url('{"alg":"EdDSA"}');
      return signCentreMessage(centre.privateKey, {}).replace(/^[^.]+/, h);
    }, "signature"],
  ])("refuses %s", (_name, make, kind) => {
    const r = verifyCentreJws(make(), centre.publicKey, "command");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe(kind);
  });

  it("never throws on arbitrary text", () => {
    fc.assert(fc.property(fc.string(), (s) => verifyCentreJws(s, centre.publicKey, "command").ok === false));
  });
});

describe("snapshot manifest and delta", () => {
  const chunk = sha256Hex("a\nb");
  const manifest = { type: MESSAGE_TYPE.snapshot, site: "hq", version: 5, ts: 1000, rows: 2, chunks: [{ rows: 2, sha256: chunk }], sha256: snapshotHash([chunk]) };

  it("accepts a consistent manifest", () => {
    expect(parseSnapshotManifest(manifest)).toMatchObject({ ok: true, value: { site: "hq", version: 5, rows: 2 } });
  });

  it.each([
    [{ rows: 3 }, /rows: 3 does not match the chunks' 2/],
    [{ sha256: "0".repeat(64) }, /sha256: does not match the chunk hashes/],
    [{ site: "all" }, /site:/],
    [{ version: 0 }, /version/],
    [{ chunks: [{ rows: 0, sha256: chunk }] }, /chunks\[0\]\.rows/],
    [{ chunks: "x" }, /chunks: expected an array/],
  ])("refuses %o", (over, re) => {
    const r = parseSnapshotManifest({ ...manifest, ...over });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(re);
  });

  it.each([
    [{}, null],
    [{ version: 5 }, /version: expected an integer above base/],
    [{ seq: 0 }, /seq/],
    [{ rows: [] }, /rows: expected a non-empty array/],
    [{ rows: [1] }, /rows: expected strings/],
  ])("delta %o", (over, re) => {
    const r = parseStatusDelta({ type: MESSAGE_TYPE.delta, site: "hq", base: 5, seq: 1, version: 6, ts: 1, rows: ["x"], ...over });
    if (re === null) expect(r.ok).toBe(true);
    else expect(!r.ok && re.test(r.error)).toBe(true);
  });
});

describe("commands", () => {
  const cmd = { id: "c-1", site: "hq", device: "gate-1", op: "open", args: {}, iat: 1000, exp: 1060 };

  it.each([
    [{}, null],
    [{ op: "explode" }, /op: expected one of/],
    [{ id: "a b" }, /id:/],
    [{ exp: 999 }, /exp:/],
    [{ exp: 1000 + 86_401 }, /exp:/],
    [{ device: "Gate 1" }, /device:/],
  ])("parses %o", (over, re) => {
    const r = parseCommand({ ...cmd, ...over });
    if (re === null) expect(r.ok).toBe(true);
    else expect(!r.ok && re.test(r.error)).toBe(true);
  });

  it.each([
    [{}, 1030, null],
    [{ device: "all" }, 1030, null],
    [{ device: "gate-2" }, 1030, /addressed to hq\/gate-2/],
    [{ site: "other", device: "all" }, 1030, /addressed to other\/all/],
    [{}, 1091, /expired/],
    [{}, 1090, null],
    [{ iat: 2000, exp: 2060 }, 1030, /issued in the future/],
  ])("%o at %i", (over, nowS, re) => {
    const parsed = parseCommand({ ...cmd, ...over });
    if (!parsed.ok) throw new Error(parsed.error);
    const why = commandRefusal(parsed.value, { site: "hq", device: "gate-1" }, nowS, 30);
    if (re === null) expect(why).toBeNull();
    else expect(why).toMatch(re);
  });
});
