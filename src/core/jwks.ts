/**
 * The pass issuer key set: a JWK Set (RFC 7517 §5) of public keys, OKP/Ed25519 (RFC 8037) for EdDSA and EC/P-256 for
 * ES256. Parsing it creates each KeyObject once, at load, so verifying a pass does no key parsing.
 *
 * Pure computation (no I/O, no clock); never throws. Every problem is reported, each prefixed with where it is
 * (`keys[2]: …`), and one problem rejects the whole set: a gate keeps its previous set rather than run on part of one.
 * An empty `keys` array is a valid set (RFC 7517): it accepts no pass, which is how every issuer is revoked at once.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import type { IssuerKey, PassAlgorithm } from "./issuer-keys.js";
import { decodeBase64Url } from "./jws.js";
import { err, ok, type Result } from "./result.js";

/** Longest kid accepted (it travels in every pass header). */
export const MAX_KID_LENGTH = 64;

/** An Ed25519 public key and each P-256 coordinate are 32 bytes. */
const COORDINATE_BYTES = 32;

/** The JWK members that make up a public key of each supported type; everything else is never read. */
function publicJwk(
  kty: "OKP" | "EC",
  crv: string,
  x: string,
  y: string | undefined,
): JsonWebKey {
  return kty === "OKP" ? { kty, crv, x } : { kty, crv, x, y };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks one JWK; returns the issuer key or its problems (without the `keys[i]: ` prefix). */
function parseJwk(jwk: unknown): IssuerKey | string[] {
  if (!isObject(jwk)) return ["expected a JSON object"];
  const problems: string[] = [];
  const { kty, crv, x, y, kid, alg, use } = jwk;
  const keyOps = jwk.key_ops;

  if (jwk.d !== undefined) {
    problems.push('is a private key (has "d"): publish only the public key; keep the private one on the issuer');
  }
  if (typeof kid !== "string" || kid.length === 0) {
    problems.push("kid: expected a non-empty string (passes name their key by kid)");
  } else if (kid.length > MAX_KID_LENGTH) {
    problems.push(`kid: expected at most ${MAX_KID_LENGTH} characters, got ${kid.length}`);
  }
  if (use !== undefined && use !== "sig") problems.push(`use: expected "sig", got ${JSON.stringify(use)}`);
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes("verify"))) {
    problems.push('key_ops: expected an array including "verify"');
  }

  let expected: PassAlgorithm | null = null;
  if (kty === "OKP") {
    if (crv === "Ed25519") expected = "EdDSA";
    else problems.push(`crv: expected Ed25519 for kty OKP, got ${JSON.stringify(crv)}`);
  } else if (kty === "EC") {
    if (crv === "P-256") expected = "ES256";
    else problems.push(`crv: expected P-256 for kty EC, got ${JSON.stringify(crv)}`);
  } else if (kty === "oct") {
    problems.push("kty: symmetric keys (oct) are not allowed: passes are verified with public keys only");
  } else {
    problems.push(`kty: expected OKP (Ed25519) or EC (P-256), got ${JSON.stringify(kty)}`);
  }
  if (alg !== undefined && expected !== null && alg !== expected) {
    problems.push(`alg: ${JSON.stringify(alg)} does not agree with the key type (${String(kty)} ${String(crv)} is ${expected})`);
  } else if (alg !== undefined && alg !== "EdDSA" && alg !== "ES256") {
    problems.push(`alg: expected EdDSA or ES256, got ${JSON.stringify(alg)}`);
  }

  const coordinate = (name: "x" | "y", v: unknown): string | null => {
    if (typeof v !== "string") {
      problems.push(`${name}: expected a base64url string`);
      return null;
    }
    const bytes = decodeBase64Url(v);
    if (bytes === null) problems.push(`${name}: not canonical unpadded base64url`);
    else if (bytes.length !== COORDINATE_BYTES) {
      problems.push(`${name}: expected ${COORDINATE_BYTES} bytes, got ${bytes.length}`);
    }
    return bytes === null || bytes.length !== COORDINATE_BYTES ? null : v;
  };
  const xs = expected !== null ? coordinate("x", x) : null;
  const ys = expected === "ES256" ? coordinate("y", y) : undefined;

  if (problems.length > 0 || expected === null || xs === null || ys === null) return problems;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicJwk(kty === "OKP" ? "OKP" : "EC", crv as string, xs, ys), format: "jwk" });
  } catch (e) {
    return [`not a valid ${String(crv)} public key (${e instanceof Error ? e.message : String(e)})`];
  }
  return { kid: kid as string, alg: expected, key };
}

/** Parses a JWK Set of pass issuer public keys into the key set, by kid; or lists every problem found. */
export function parseJwks(json: unknown): Result<Map<string, IssuerKey>, string[]> {
  if (!isObject(json)) return err(["expected a JSON object {\"keys\": [...]}"]);
  const keys = json.keys;
  if (!Array.isArray(keys)) return err(["keys: expected an array"]);
  const problems: string[] = [];
  const byKid = new Map<string, IssuerKey>();
  const firstIndex = new Map<string, number>();
  keys.forEach((jwk: unknown, i) => {
    const parsed = parseJwk(jwk);
    if (Array.isArray(parsed)) for (const p of parsed) problems.push(`keys[${i}]: ${p}`);
    else byKid.set(parsed.kid, parsed);
    // Duplicates are found among all keys, valid or not.
    const kid = isObject(jwk) && typeof jwk.kid === "string" ? jwk.kid : undefined;
    if (kid === undefined) return;
    const seen = firstIndex.get(kid);
    if (seen === undefined) firstIndex.set(kid, i);
    else problems.push(`keys[${i}]: kid ${JSON.stringify(kid)} is already used by keys[${seen}]`);
  });
  return problems.length > 0 ? err(problems) : ok(byKid);
}
