/**
 * The signed phone pass, docs/contract.md §3.2 (contract): `QG1:` + a compact JWS signed with EdDSA (Ed25519) or ES256.
 *
 * Pure: the time comes in as `nowS`, the issuer keys and the replay set as arguments; never throws on bad input.
 * Checks run in this order, so that nothing in the claims is believed before the signature verifies:
 *   format (prefix, three strict base64url parts, header JSON with string `alg` and `kid`, no `crit`,
 *   no member name twice)                                                                             -> `bad_format`
 *   kid known in the key set                                                                          -> `unknown_key`
 *   header `alg` exactly the key's algorithm, 64-byte signature, signature verifies                  -> `bad_signature`
 *   payload a JSON object, no member name twice, valid `sub`, `iat`, `exp`, `nbf`, `jti`, `name`      -> `bad_format`
 *   `iat <= now + skew`, `nbf <= now + skew` (when present), `now <= exp + skew` -> `not_yet_valid` / `expired`
 *   `jti` not used before on this device                                                              -> `replayed`
 *
 * `bad_format` means the text is not a well-formed pass; `bad_signature` means it is well formed but not proven to
 * come from the named key: that includes `alg: none`, `HS256` (and any other algorithm), and a header `alg` that
 * differs from the one the key declares (e.g. ES256 on an Ed25519 key). The algorithm is never taken from the token:
 * the key decides it, and the header must merely agree. Header members such as `jku`, `jwk` or `x5u` are ignored,
 * never used to find a key.
 */
import { verify as cryptoVerify } from "node:crypto";
import type { PassCredential, Rejection } from "./credential.js";
import type { IssuerKey, IssuerKeySet, ReplaySet } from "./issuer-keys.js";
import { findDuplicateKey } from "./json-duplicate-keys.js";
import { decodeUtf8, quoteName, splitCompactJws } from "./jws.js";
import { isDigits, stripScannerNoise } from "./code-text.js";
import type { DenyReason } from "./reason.js";
import { err, ok, type Result } from "./result.js";

/** The prefix of a pass's QR text. */
export const PASS_PREFIX = "QG1:";
/** Longest a pass may live: `exp - iat` at most this. */
export const MAX_PASS_LIFETIME_S = 600;
/** Longest `jti` accepted (it is stored in the replay cache). */
export const MAX_JTI_LENGTH = 128;
/** Longest `name` claim accepted. */
export const MAX_NAME_LENGTH = 256;
/** Longest QR text: what a version 40-L QR code holds in byte mode. */
export const MAX_PASS_TEXT_LENGTH = 2953;
/** Length of an Ed25519 signature and of an ES256 signature in JWS form (raw r || s, RFC 7518 §3.4). */
const SIGNATURE_BYTES = 64;

/** What verifying a pass needs besides its text. */
export interface PassContext {
  /** The cached issuer key set, by kid. */
  readonly keys: IssuerKeySet;
  /** Trusted wall time, Unix seconds. */
  readonly nowS: number;
  /** Clock skew allowed on both `iat` and `exp`, seconds (docs/contract.md §3.2: default 30). */
  readonly skewS: number;
  /** The `jti`s already used on this device. */
  readonly replay: ReplaySet;
}

const reject = (reason: DenyReason, detail: string): { readonly ok: false; readonly error: Rejection } =>
  err({ kind: "pass", reason, detail });

/** A short, escaped rendering of an untrusted header value for a detail. */
function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
}

function checkSignature(key: IssuerKey, signingInput: Uint8Array, signature: Uint8Array): boolean {
  try {
    return key.alg === "EdDSA"
      ? cryptoVerify(null, signingInput, key.key, signature)
      : cryptoVerify("sha256", signingInput, { key: key.key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    // A key object of the wrong type, or OpenSSL refusing the input: not a valid signature either way.
    return false;
  }
}

/** Verifies the QR text of a phone pass; see the module comment for the order of checks and the reasons. */
export function verifyPass(text: string, ctx: PassContext): Result<PassCredential, Rejection> {
  const code = stripScannerNoise(text);
  if (!code.startsWith(PASS_PREFIX)) return reject("bad_format", `expected the prefix ${PASS_PREFIX}`);
  if (code.length > MAX_PASS_TEXT_LENGTH) {
    return reject("bad_format", `pass is ${code.length} characters; a QR code holds at most ${MAX_PASS_TEXT_LENGTH}`);
  }

  // 1. Format.
  const split = splitCompactJws(code.slice(PASS_PREFIX.length));
  if (!split.ok) return reject("bad_format", `${split.error.part}: ${split.error.detail}`);
  const { header, payload, signature, signingInput } = split.value;
  const alg = header.alg;
  if (alg === undefined) return reject("bad_format", "header: alg missing");
  if (typeof alg !== "string") return reject("bad_format", "header: alg must be a string");
  const kid = header.kid;
  if (kid === undefined) return reject("bad_format", "header: kid missing");
  if (typeof kid !== "string" || kid.length === 0) return reject("bad_format", "header: kid must be a non-empty string");
  if (header.crit !== undefined) return reject("bad_format", "header: crit is not supported (no extensions are)");

  // 2. Key.
  const key = ctx.keys.get(kid);
  if (key === undefined) return reject("unknown_key", `no issuer key with kid ${quote(kid)}`);

  // 3. Signature. The key alone decides the algorithm; the header must agree with it.
  if (alg !== key.alg) {
    return reject("bad_signature", `header alg ${quote(alg)} is not ${key.alg}, the algorithm of key ${quote(kid)}`);
  }
  if (signature.length !== SIGNATURE_BYTES) {
    return reject("bad_signature", `signature: expected ${SIGNATURE_BYTES} bytes for ${alg}, got ${signature.length}`);
  }
  if (!checkSignature(key, signingInput, signature)) {
    return reject("bad_signature", `signature does not verify with key ${quote(kid)}`);
  }

  // 4. Claims (signed by a known issuer from here on).
  const json = decodeUtf8(payload);
  if (json === null) return reject("bad_format", "payload: not valid UTF-8");
  let claims: unknown;
  try {
    claims = JSON.parse(json);
  } catch {
    return reject("bad_format", "payload: not JSON");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    return reject("bad_format", "payload: expected a JSON object");
  }
  // JSON.parse keeps the last of two equal names; a signed payload that says two things is refused.
  const duplicate = findDuplicateKey(json);
  if (duplicate !== null) return reject("bad_format", `payload: member ${quoteName(duplicate)} appears twice`);
  const { sub, iat, exp, nbf, jti, name } = claims as Record<string, unknown>;
  if (typeof sub !== "string") return reject("bad_format", "claim sub: expected a string of 12 digits");
  if (sub.length !== 12 || !isDigits(sub)) {
    return reject("bad_format", `claim sub: expected 12 digits, got ${sub.length} characters`);
  }
  if (typeof iat !== "number" || !Number.isSafeInteger(iat)) {
    return reject("bad_format", "claim iat: expected an integer (Unix seconds)");
  }
  if (typeof exp !== "number" || !Number.isSafeInteger(exp)) {
    return reject("bad_format", "claim exp: expected an integer (Unix seconds)");
  }
  const lifetime = exp - iat;
  if (lifetime < 1 || lifetime > MAX_PASS_LIFETIME_S) {
    return reject("bad_format", `claims exp - iat: expected 1 to ${MAX_PASS_LIFETIME_S} s, got ${lifetime} s`);
  }
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isSafeInteger(nbf))) {
    return reject("bad_format", "claim nbf: expected an integer (Unix seconds)");
  }
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    return reject("bad_format", `claim jti: expected a string of 1 to ${MAX_JTI_LENGTH} characters`);
  }
  if (name !== undefined && (typeof name !== "string" || name.length > MAX_NAME_LENGTH)) {
    return reject("bad_format", `claim name: expected a string of at most ${MAX_NAME_LENGTH} characters`);
  }

  // 5. Time. From here the pass is authentic, so a refusal names its subject.
  const refuse = (reason: DenyReason, detail: string): { readonly ok: false; readonly error: Rejection } =>
    err({ kind: "pass", reason, detail, subject: sub });
  if (iat > ctx.nowS + ctx.skewS) {
    return refuse("not_yet_valid", `issued at ${iat}, ${iat - ctx.nowS} s ahead of now ${ctx.nowS} (skew ${ctx.skewS} s)`);
  }
  if (nbf !== undefined && nbf > ctx.nowS + ctx.skewS) {
    return refuse("not_yet_valid", `not before ${nbf}, ${nbf - ctx.nowS} s ahead of now ${ctx.nowS} (skew ${ctx.skewS} s)`);
  }
  if (ctx.nowS > exp + ctx.skewS) {
    return refuse("expired", `expired at ${exp}, ${ctx.nowS - exp} s before now ${ctx.nowS} (skew ${ctx.skewS} s)`);
  }

  // 6. Replay.
  if (ctx.replay.has(jti)) return refuse("replayed", "this pass (its jti) was already used on this device");

  return ok(
    name === undefined
      ? { kind: "pass", sub, iat, exp, jti, kid }
      : { kind: "pass", sub, iat, exp, jti, kid, name: name.normalize("NFC") },
  );
}
