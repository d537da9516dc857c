/**
 * Signs provisioning codes (`QGP1:`, see provisioning-code.ts) with the fleet's provisioning key. Not core: it draws
 * a random `jti`. It refuses (throws) to make a code a gate would refuse for its form.
 */
import { randomUUID, sign as cryptoSign, type KeyObject } from "node:crypto";
import type { PassAlgorithm } from "../core/issuer-keys.js";
import { encodeBase64Url } from "../core/jws.js";
import { assertKeyFitsAlg } from "../issuer/pass-signer.js";
import { MAX_PROVISIONING_LIFETIME_S, PROVISIONING_PREFIX, PROVISIONING_TYP, type ProvisioningGrant } from "./provisioning-code.js";

export interface ProvisioningKey {
  readonly kid: string;
  readonly alg: PassAlgorithm;
  readonly privateKey: KeyObject;
}

/** What goes into a code: the grant without the fields the signer sets. */
export type ProvisioningContent = Omit<ProvisioningGrant, "iat" | "exp" | "jti" | "kid">;

/** Signs a provisioning code valid from `nowS` for `ttlS` seconds; returns its QR text. */
export function signProvisioningCode(content: ProvisioningContent, key: ProvisioningKey, nowS: number, ttlS: number): string {
  if (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > MAX_PROVISIONING_LIFETIME_S) {
    throw new Error(`the code's lifetime must be 1 to ${MAX_PROVISIONING_LIFETIME_S} seconds, got ${ttlS}`);
  }
  assertKeyFitsAlg(key.privateKey, key.alg);
  const header = encodeBase64Url(JSON.stringify({ alg: key.alg, kid: key.kid, typ: PROVISIONING_TYP }));
  const claims = {
    v: 1,
    iat: nowS,
    exp: nowS + ttlS,
    jti: randomUUID(),
    site: content.site,
    device: content.device,
    door: content.door,
    mqtt: content.mqtt,
  };
  const signingInput = `${header}.${encodeBase64Url(JSON.stringify(claims))}`;
  const data = Buffer.from(signingInput, "latin1");
  const signature =
    key.alg === "EdDSA"
      ? cryptoSign(null, data, key.privateKey)
      : cryptoSign("sha256", data, { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${PROVISIONING_PREFIX}${signingInput}.${encodeBase64Url(signature)}`;
}
