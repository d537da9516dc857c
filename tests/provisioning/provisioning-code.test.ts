import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { IssuerKeySet } from "../../src/core/issuer-keys.js";
import { encodeBase64Url } from "../../src/core/jws.js";
import { verifyProvisioningCode, type ProvisioningContext } from "../../src/provisioning/provisioning-code.js";
import { signProvisioningCode, type ProvisioningKey } from "../../src/provisioning/provisioning-signer.js";

const NOW = 1_800_000_000;
const DAY = 86_400;

function key(kid: string, alg: "EdDSA" | "ES256" = "EdDSA"): ProvisioningKey {
  const { privateKey } = alg === "EdDSA" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { kid, alg, privateKey };
}
const fleet = key("provisioning");
const es = key("provisioning-es", "ES256");
/** The public halves, as a gate holds them in its provisioning key set. */
const keys: IssuerKeySet = new Map([fleet, es].map((k) => [k.kid, { kid: k.kid, alg: k.alg, key: createPublicKey(k.privateKey) }]));

const content = {
  site: "hq",
  device: "gate-7",
  door: "lobby",
  mqtt: { url: "mqtts://broker.example:8883", username: "hq.gate-7", password: "s3cret-s3cret" },
};
const ctx: ProvisioningContext = { keys, nowS: NOW, skewS: 300 };

describe("QGP1 provisioning codes", () => {
  it.each([fleet, es])("round-trips site, door and broker settings signed with $alg", (k) => {
    const code = signProvisioningCode(content, k, NOW, 7 * DAY);
    expect(code.startsWith("QGP1:")).toBe(true);
    const v = verifyProvisioningCode(code + "\r\n", ctx);
    expect(v).toMatchObject({ ok: true, value: { ...content, kid: k.kid, iat: NOW, exp: NOW + 7 * DAY } });
  });

  it("refuses a code signed by a key the gate does not hold, even under a known kid", () => {
    const forger = key("provisioning");
    const v = verifyProvisioningCode(signProvisioningCode(content, forger, NOW, DAY), ctx);
    expect(v).toMatchObject({ ok: false, error: { reason: "bad_signature" } });
  });

  it("refuses a code under an unknown kid", () => {
    const v = verifyProvisioningCode(signProvisioningCode(content, key("someone"), NOW, DAY), ctx);
    expect(v).toMatchObject({ ok: false, error: { reason: "unknown_key" } });
  });

  it("refuses a code whose claims were changed after signing", () => {
    const code = signProvisioningCode(content, fleet, NOW, DAY);
    const [h, p, s] = code.slice(5).split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
    const tampered = `QGP1:${h}.${encodeBase64Url(JSON.stringify({ ...claims, mqtt: { url: "mqtt://evil.example:1883" } }))}.${s}`;
    expect(verifyProvisioningCode(tampered, ctx)).toMatchObject({ ok: false, error: { reason: "bad_signature" } });
  });

  it("refuses an unsigned code (alg none) and one with the signature cut off", () => {
    const claims = encodeBase64Url(JSON.stringify({ v: 1, iat: NOW, exp: NOW + DAY, jti: "x", ...content }));
    const none = `QGP1:${encodeBase64Url(JSON.stringify({ alg: "none", kid: "provisioning", typ: "qrgate-provisioning" }))}.${claims}.`;
    expect(verifyProvisioningCode(none, ctx)).toMatchObject({ ok: false, error: { reason: "bad_signature" } });
    const code = signProvisioningCode(content, fleet, NOW, DAY);
    expect(verifyProvisioningCode(code.slice(0, code.lastIndexOf(".") + 1), ctx)).toMatchObject({ ok: false });
  });

  it("refuses an expired code, and accepts one issued 'in the future' (a Pi's clock before NTP is behind)", () => {
    const code = signProvisioningCode(content, fleet, NOW - 8 * DAY, 7 * DAY);
    expect(verifyProvisioningCode(code, ctx)).toMatchObject({ ok: false, error: { reason: "expired" } });
    const ahead = signProvisioningCode(content, fleet, NOW + 30 * DAY, DAY);
    expect(verifyProvisioningCode(ahead, ctx).ok).toBe(true);
  });

  it("refuses a pass-style signature (no provisioning typ) made with the same key", () => {
    const header = encodeBase64Url(JSON.stringify({ alg: "EdDSA", kid: "provisioning" }));
    const code = signProvisioningCode(content, fleet, NOW, DAY);
    const [, p, s] = code.slice(5).split(".");
    expect(verifyProvisioningCode(`QGP1:${header}.${p}.${s}`, ctx)).toMatchObject({ ok: false, error: { reason: "bad_format" } });
  });

  it.each([
    ["site", { ...content, site: "all" }],
    ["device", { ...content, device: "Gate 7" }],
    ["mqtt.url", { ...content, mqtt: { url: "http://broker" } }],
  ])("refuses a signed code with a bad %s", (what, bad) => {
    const v = verifyProvisioningCode(signProvisioningCode(bad, fleet, NOW, DAY), ctx);
    expect(v).toMatchObject({ ok: false, error: { reason: "bad_format" } });
    if (!v.ok) expect(v.error.detail).toContain(what);
  });

  it("never throws on garbage", () => {
    for (const t of ["", "QGP1:", "QGP1:a.b.c", "QGP1:" + "A".repeat(5000), "QG1:x.y.z", "\uFEFFQGP1:...."]) {
      expect(verifyProvisioningCode(t, ctx).ok).toBe(false);
    }
  });
});
