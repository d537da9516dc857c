/**
 * The signed provisioning code (`QGP1:`): what a technician's gate scans to learn its site, door and broker. Its text
 * is `QGP1:` + a compact JWS (RFC 7515), header `{alg, kid, typ: "qrgate-provisioning"}`, signed with the fleet's
 * provisioning key (EdDSA or ES256, a key made by `qrgate keys gen --kid provisioning`), claims:
 *
 *   `{v: 1, iat, exp, jti, site, device, door, mqtt: {url, username?, password?, root?}}`
 *
 * Pure: time and keys come in as arguments; never throws on bad input. Nothing in the claims is read before the
 * signature verifies. Time: only `exp` is enforced. A Raspberry Pi has no real-time clock, so on first boot, before
 * NTP, its clock is behind (fake-hwclock's last shutdown, or the image's date): refusing a code "issued in the future"
 * would refuse every code on such a gate, while a behind clock can only make an expired code look valid, which a
 * short `exp` keeps small.
 *
 * The code carries the broker password signed, not encrypted: treat a printed code like the password it holds.
 */
import { verify as cryptoVerify } from "node:crypto";
import { isValidSegment } from "../contract/topics.js";
import type { IssuerKey, IssuerKeySet } from "../core/issuer-keys.js";
import { decodeUtf8, splitCompactJws } from "../core/jws.js";
import { err, ok, type Result } from "../core/result.js";

export const PROVISIONING_PREFIX = "QGP1:";
/** The JWS header `typ`: keeps a provisioning signature from being taken for anything else. */
export const PROVISIONING_TYP = "qrgate-provisioning";
/** Longest lifetime a code may claim (`exp - iat`): a code is printed for one visit, not kept. */
export const MAX_PROVISIONING_LIFETIME_S = 30 * 86_400;
/** Longest text accepted: what a version 40-L QR code holds in byte mode. */
const MAX_TEXT_LENGTH = 2953;
const SIGNATURE_BYTES = 64;

/** The settings a provisioning code gives a gate. */
export interface ProvisioningGrant {
  readonly site: string;
  readonly device: string;
  readonly door: string;
  readonly mqtt: {
    readonly url: string;
    readonly username?: string;
    readonly password?: string;
    readonly root?: string;
  };
  /** Unix seconds. */
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
  /** The kid of the key that signed it. */
  readonly kid: string;
}

/** Why a code was refused: `reason` for logs and counters, `detail` for the technician. */
export interface ProvisioningRefusal {
  readonly reason: "bad_format" | "unknown_key" | "bad_signature" | "expired";
  readonly detail: string;
}

export interface ProvisioningContext {
  /** The fleet's provisioning public keys, by kid. */
  readonly keys: IssuerKeySet;
  /** Trusted wall time, Unix seconds. */
  readonly nowS: number;
  /** Clock skew allowed on `exp`, seconds. */
  readonly skewS: number;
}

const refuse = (reason: ProvisioningRefusal["reason"], detail: string): { ok: false; error: ProvisioningRefusal } =>
  err({ reason, detail });

function signatureVerifies(key: IssuerKey, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return key.alg === "EdDSA"
      ? cryptoVerify(null, data, key.key, signature)
      : cryptoVerify("sha256", data, { key: key.key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

const MQTT_URL = /^(mqtts?|wss?):\/\/[^\s]+$/;
const TOPIC_ROOT = /^[^#+]+[^/#+]$/;

/** Checks the claims of an authentic code; returns the grant or what is wrong. */
function parseClaims(claims: Record<string, unknown>, kid: string): Result<ProvisioningGrant, string> {
  const { v, iat, exp, jti, site, device, door, mqtt } = claims;
  if (v !== 1) return err(`claim v: expected 1, got ${JSON.stringify(v)}`);
  if (typeof iat !== "number" || !Number.isSafeInteger(iat)) return err("claim iat: expected an integer (Unix seconds)");
  if (typeof exp !== "number" || !Number.isSafeInteger(exp)) return err("claim exp: expected an integer (Unix seconds)");
  if (exp - iat < 1 || exp - iat > MAX_PROVISIONING_LIFETIME_S) {
    return err(`claims exp - iat: expected 1 to ${MAX_PROVISIONING_LIFETIME_S} s, got ${exp - iat} s`);
  }
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 128) return err("claim jti: expected 1 to 128 characters");
  if (typeof site !== "string" || !isValidSegment(site)) return err("claim site: expected a-z 0-9 -, 1 to 64, not 'all'");
  if (typeof device !== "string" || !isValidSegment(device)) return err("claim device: expected a-z 0-9 -, 1 to 64, not 'all'");
  if (typeof door !== "string" || door.length < 1 || door.length > 64) return err("claim door: expected 1 to 64 characters");
  if (typeof mqtt !== "object" || mqtt === null || Array.isArray(mqtt)) return err("claim mqtt: expected an object");
  const m = mqtt as Record<string, unknown>;
  const unknown = Object.keys(m).filter((k) => !["url", "username", "password", "root"].includes(k));
  if (unknown.length > 0) return err(`claim mqtt: unknown key '${unknown[0] ?? ""}'`);
  if (typeof m.url !== "string" || !MQTT_URL.test(m.url)) return err("claim mqtt.url: expected mqtt://, mqtts://, ws:// or wss://");
  for (const k of ["username", "password"] as const) {
    const val = m[k];
    if (val !== undefined && (typeof val !== "string" || val.length === 0 || val.length > 256)) {
      return err(`claim mqtt.${k}: expected 1 to 256 characters`);
    }
  }
  if (m.root !== undefined && (typeof m.root !== "string" || !TOPIC_ROOT.test(m.root))) return err("claim mqtt.root: not a topic root");
  return ok({
    site,
    device,
    door,
    mqtt: {
      url: m.url,
      ...(typeof m.username === "string" ? { username: m.username } : {}),
      ...(typeof m.password === "string" ? { password: m.password } : {}),
      ...(typeof m.root === "string" ? { root: m.root } : {}),
    },
    iat,
    exp,
    jti,
    kid,
  });
}

/** True when the text is meant as a provisioning code (so a gate in provisioning mode answers it, not ignores it). */
export function isProvisioningCode(text: string): boolean {
  return text.replace(/^\uFEFF/, "").trimStart().startsWith(PROVISIONING_PREFIX);
}

/** Verifies a scanned provisioning code. Order: format, key, signature, claims, expiry. */
export function verifyProvisioningCode(text: string, ctx: ProvisioningContext): Result<ProvisioningGrant, ProvisioningRefusal> {
  // Scanners add a BOM, CR/LF or NUL around a code.
  const code = text.replace(/^\uFEFF/, "").replace(/[\r\n\0]+$/, "").trim();
  if (!code.startsWith(PROVISIONING_PREFIX)) return refuse("bad_format", `expected the prefix ${PROVISIONING_PREFIX}`);
  if (code.length > MAX_TEXT_LENGTH) return refuse("bad_format", `${code.length} characters; a QR code holds at most ${MAX_TEXT_LENGTH}`);
  const split = splitCompactJws(code.slice(PROVISIONING_PREFIX.length));
  if (!split.ok) return refuse("bad_format", `${split.error.part}: ${split.error.detail}`);
  const { header, payload, signature, signingInput } = split.value;
  if (typeof header.alg !== "string") return refuse("bad_format", "header: alg missing or not a string");
  if (typeof header.kid !== "string" || header.kid.length === 0) return refuse("bad_format", "header: kid missing");
  if (header.typ !== PROVISIONING_TYP) return refuse("bad_format", `header: typ must be "${PROVISIONING_TYP}"`);
  if (header.crit !== undefined) return refuse("bad_format", "header: crit is not supported");

  const key = ctx.keys.get(header.kid);
  if (key === undefined) return refuse("unknown_key", `no provisioning key with kid ${JSON.stringify(header.kid.slice(0, 40))}`);
  // The key decides the algorithm; the header must only agree (no alg:none, no HS256 with a public key).
  if (header.alg !== key.alg) return refuse("bad_signature", `header alg ${JSON.stringify(header.alg.slice(0, 20))} is not ${key.alg}`);
  if (signature.length !== SIGNATURE_BYTES || !signatureVerifies(key, signingInput, signature)) {
    return refuse("bad_signature", `signature does not verify with provisioning key ${JSON.stringify(key.kid)}`);
  }

  const json = decodeUtf8(payload);
  if (json === null) return refuse("bad_format", "payload: not valid UTF-8");
  let claims: unknown;
  try {
    claims = JSON.parse(json);
  } catch {
    return refuse("bad_format", "payload: not JSON");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return refuse("bad_format", "payload: expected a JSON object");
  const grant = parseClaims(claims as Record<string, unknown>, key.kid);
  if (!grant.ok) return refuse("bad_format", grant.error);
  if (ctx.nowS > grant.value.exp + ctx.skewS) {
    return refuse("expired", `expired at ${new Date(grant.value.exp * 1000).toISOString()}`);
  }
  return grant;
}
