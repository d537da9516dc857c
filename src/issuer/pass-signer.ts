/**
 * The issuer's side of the phone pass (docs/contract.md §3.2): signs `QG1:` + compact JWS. Not core: it draws a random `jti`.
 * It refuses (throws) to make a pass the gate would reject for its form, so a bad pass is caught where it is made.
 */
import { randomUUID, sign as cryptoSign, type KeyObject } from "node:crypto";
import { isDigits } from "../core/code-text.js";
import type { PassAlgorithm } from "../core/issuer-keys.js";
import { encodeBase64Url } from "../core/jws.js";
import { MAX_JTI_LENGTH, MAX_NAME_LENGTH, MAX_PASS_LIFETIME_S, PASS_PREFIX } from "../core/pass.js";

export interface SignPassInput {
  /** The issuer's private key: Ed25519 for EdDSA, P-256 for ES256. */
  readonly privateKey: KeyObject;
  readonly kid: string;
  readonly alg: PassAlgorithm;
  /** The 12-digit citizen ID. */
  readonly sub: string;
  /** Lifetime in seconds, 1 to 600: `exp = nowS + ttlS`. */
  readonly ttlS: number;
  /** Issue time (`iat`), Unix seconds. */
  readonly nowS: number;
  /** Unique pass id; a random UUID when omitted. */
  readonly jti?: string;
  readonly name?: string;
}

/** Throws unless `privateKey` is a private key usable with `alg`. */
export function assertKeyFitsAlg(privateKey: KeyObject, alg: PassAlgorithm): void {
  if (privateKey.type !== "private") throw new Error(`expected a private key, got a ${privateKey.type} key`);
  const type = privateKey.asymmetricKeyType;
  if (alg === "EdDSA" && type !== "ed25519") throw new Error(`EdDSA needs an Ed25519 key, got ${type ?? "unknown"}`);
  if (alg === "ES256" && (type !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1")) {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    throw new Error(`ES256 needs a P-256 key, got ${type ?? "unknown"}${curve === undefined ? "" : ` (${curve})`}`);
  }
}

/** Signs a pass and returns its QR text, `QG1:<header>.<payload>.<signature>`. */
export function signPass(input: SignPassInput): string {
  const { privateKey, kid, alg, sub, ttlS, nowS, name } = input;
  const jti = input.jti ?? randomUUID();
  if (kid.length === 0) throw new Error("kid must not be empty");
  if (sub.length !== 12 || !isDigits(sub)) throw new Error("sub must be 12 digits");
  if (!Number.isSafeInteger(nowS)) throw new Error("iat (nowS) must be an integer number of seconds");
  if (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > MAX_PASS_LIFETIME_S) {
    throw new Error(`ttl must be an integer from 1 to ${MAX_PASS_LIFETIME_S} seconds, got ${ttlS}`);
  }
  if (jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new Error(`jti must be 1 to ${MAX_JTI_LENGTH} characters`);
  if (name !== undefined && name.length > MAX_NAME_LENGTH) {
    throw new Error(`name must be at most ${MAX_NAME_LENGTH} characters`);
  }
  assertKeyFitsAlg(privateKey, alg);

  const header = encodeBase64Url(JSON.stringify({ alg, kid }));
  const claims: Record<string, string | number> = { sub, iat: nowS, exp: nowS + ttlS, jti };
  if (name !== undefined) claims.name = name.normalize("NFC");
  const signingInput = `${header}.${encodeBase64Url(JSON.stringify(claims))}`;
  const data = Buffer.from(signingInput, "latin1");
  const signature =
    alg === "EdDSA"
      ? cryptoSign(null, data, privateKey)
      : cryptoSign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${PASS_PREFIX}${signingInput}.${encodeBase64Url(signature)}`;
}
